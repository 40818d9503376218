import AsyncHTTPClient
import Foundation
import HTTPHost
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PartyLineTesting
import RelayServer
import STUN
import ServerTLS
import ServiceLifecycle
import Signalling
import SignallingClient
import SignallingServer
import TURN
import TURNClient
import Testing

/// The HTTP listener serving HTTP, the signalling WebSocket, STUN and TURN on one port, plain and over TLS,
/// and the certificate reloaded under an allocation that keeps relaying.
@Suite("One port for HTTP, WebSocket, STUN and TURN")
struct OnePortEndToEndTests {
    static let fixtures = STUNServerEndToEndTests.fixtures

    struct OnePort {
        let relay: RelayServer
        let hub: SignallingHub
        let port: Int
        let tls: Bool
        var address: SocketAddress { try! SocketAddress(ipAddress: "127.0.0.1", port: port) }
        var scheme: String { tls ? "https" : "http" }
    }

    /// A relay and an HTTP host that hands it every connection whose first byte is STUN's, on 127.0.0.1.
    static func withOnePort(tls: ReloadingTLSContext?, _ body: (OnePort) async throws -> Void) async throws {
        var configuration = RelayServerConfiguration.loopback()
        configuration.turn = .loopback()
        let relay = RelayServer(configuration: configuration, tls: tls)
        try await relay.start()
        var logger = Logger(label: "test.one-port")
        logger.logLevel = .critical
        let hub = SignallingHub(
            configuration: SignallingConfiguration(apiKeys: ["key"], tokenSecret: "one port"), logger: logger)
        let (ports, reportPort) = AsyncStream<Int>.makeStream()
        let app = HTTPHost.make(
            host: "127.0.0.1", port: 0, logger: logger, tls: tls,
            adoptStream: { channel, tls in try relay.adoptStream(channel, tls: tls) },
            webSocket: SignallingRoutes.webSocket(hub: hub), addRoutes: { SignallingRoutes.add(to: $0, hub: hub) },
            services: [hub], onServerRunning: { reportPort.yield($0) })
        do {
            try await withThrowingTaskGroup { group in
                group.addTask { try await app.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                defer { group.cancelAll() }
                try await body(OnePort(relay: relay, hub: hub, port: port, tls: tls != nil))
            }
        } catch {
            await relay.stop()
            throw error
        }
        await relay.stop()
    }

    static func clientTLS(trusting certificate: String) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(certificate)
        return configuration
    }

    /// `GET /healthz` over a fresh connection.
    static func health(_ port: OnePort, trusting certificate: String) async throws -> String {
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(tlsConfiguration: try clientTLS(trusting: certificate)))
        do {
            let response = try await client.execute(
                HTTPClientRequest(url: "\(port.scheme)://127.0.0.1:\(port.port)/healthz"), timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1024)
            try await client.shutdown()
            return "\(response.status.code) \(String(buffer: body))"
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// A member joins a new session over the port's WebSocket and is welcomed.
    static func joinOverWebSocket(_ port: OnePort, trusting certificate: String) async throws -> SignallingConnection {
        let created = try port.hub.createSession(CreateSessionRequest(members: ["ann", "bob", "cat"]))
        // By name over TLS: the client would send the IP address as SNI, which TLS does not allow.
        let url = port.tls ? "wss://localhost:\(port.port)/v1/signal" : "ws://127.0.0.1:\(port.port)/v1/signal"
        let connection = SignallingConnection(
            url: url, tls: port.tls ? try clientTLS(trusting: certificate) : nil,
            logger: Logger(label: "test.one-port.ws"))
        connection.send(.join(version: 1, token: created.members[0].token))
        var messages = connection.messages.makeAsyncIterator()
        guard case .welcome(let welcome) = await messages.next() else {
            Issue.record("no welcome over the shared port")
            throw TURNTestClientError.noResponse(.binding)
        }
        #expect(welcome.you == created.members[0].pseudonym)
        return connection
    }

    /// An allocation over the port with a channel to `peer`, data relayed both ways.
    static func relayOverStream(_ connection: TestTCPConnection, to peer: TestUDPSocket) async throws
        -> TransportAddress
    {
        var auth = TURNClientAuthentication(username: "alice", password: "wonderland")
        let peerAddress = try #require(peer.localAddress.flatMap(TransportAddress.init))
        let allocation = try await TURNStreamEndToEndTests.request(
            connection, &auth, .allocate, [.requestedTransport(17)])
        let relayed = try TURNRelayEndToEndTests.relayed(allocation)
        let bound = try await TURNStreamEndToEndTests.request(
            connection, &auth, .channelBind, [.channelNumber(0x4001), .xorPeerAddress(peerAddress)])
        #expect(bound.type.messageClass == .successResponse)
        try await expectRelaying(connection, peer: peer, relayed: relayed, payload: "first")
        return relayed
    }

    static func expectRelaying(
        _ connection: TestTCPConnection, peer: TestUDPSocket, relayed: TransportAddress, payload: String
    ) async throws {
        var frame = ByteBuffer()
        ChannelData(channel: 0x4001, data: ByteBuffer(string: payload)).encode(into: &frame, padded: true)
        try await connection.write(frame)
        #expect(try await peer.receive() == ByteBuffer(string: payload))
        try await peer.send(ByteBuffer(string: "re: \(payload)"), to: relayed.socketAddress)
        let back = try await TURNStreamEndToEndTests.frame(connection)
        #expect(
            try ChannelData(decoding: back) == ChannelData(channel: 0x4001, data: ByteBuffer(string: "re: \(payload)")))
    }

    static func binding(_ port: OnePort, trusting certificate: String) async throws -> STUNClient.BindingResult {
        let url = try #require(STUNServerURL("\(port.tls ? "stuns" : "stun"):127.0.0.1:\(port.port)?transport=tcp"))
        return try await STUNClient.binding(url, trust: .certificateFile(certificate))
    }

    @Test("plain TCP: HTTP, the signalling WebSocket, a STUN Binding and a TURN allocation on one port")
    func plain() async throws {
        let certificate = Self.fixtures.appendingPathComponent("cert.pem").path
        try await Self.withOnePort(tls: nil) { port in
            #expect(try await Self.health(port, trusting: certificate) == "200 ok")
            let member = try await Self.joinOverWebSocket(port, trusting: certificate)
            let binding = try await Self.binding(port, trusting: certificate)
            #expect(binding.mappedAddress.port == binding.localAddress?.port.map(UInt16.init))
            let peer = try await TestUDPSocket.bind()
            let connection = try await TestTCPConnection.connect(to: port.address)
            _ = try await Self.relayOverStream(connection, to: peer)
            #expect(await port.relay.relayStatistics().allocations == 1)
            #expect(port.relay.statistics()[.tcp].received >= 1)
            await connection.close()
            // The allocation ends with its connection (HTTP's half-closed connections do not apply).
            try #require(await eventually { await port.relay.relayStatistics().allocations == 0 })
            await peer.close()
            member.close()
        }
    }

    @Test("TLS: HTTPS, WSS, STUN and TURN over TLS on one port")
    func overTLS() async throws {
        let certificate = Self.fixtures.appendingPathComponent("cert.pem").path
        let tls = try ReloadingTLSContext(files: STUNServerEndToEndTests.certificate)
        try await Self.withOnePort(tls: tls) { port in
            #expect(try await Self.health(port, trusting: certificate) == "200 ok")
            let member = try await Self.joinOverWebSocket(port, trusting: certificate)
            let binding = try await Self.binding(port, trusting: certificate)
            #expect(binding.mappedAddress.port == binding.localAddress?.port.map(UInt16.init))
            let peer = try await TestUDPSocket.bind()
            let connection = try await TestTCPConnection.connect(
                to: port.address, tls: try NIOSSLContext(configuration: Self.clientTLS(trusting: certificate)))
            _ = try await Self.relayOverStream(connection, to: peer)
            #expect(port.relay.statistics()[.tls].received >= 1)
            await connection.close()
            try #require(await eventually { await port.relay.relayStatistics().allocations == 0 })
            await peer.close()
            member.close()
        }
    }

    @Test("a reloaded certificate serves new connections while an allocation and a WebSocket made before go on")
    func reload() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("partyline-reload-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = TLSCertificateFiles(
            certificateChainPath: folder.appendingPathComponent("cert.pem").path,
            privateKeyPath: folder.appendingPathComponent("key.pem").path)
        func install(_ certificate: String, _ key: String) throws {
            try Data(contentsOf: Self.fixtures.appendingPathComponent(certificate))
                .write(to: URL(fileURLWithPath: files.certificateChainPath))
            try Data(contentsOf: Self.fixtures.appendingPathComponent(key))
                .write(to: URL(fileURLWithPath: files.privateKeyPath))
        }
        try install("cert.pem", "key.pem")
        let old = Self.fixtures.appendingPathComponent("cert.pem").path
        let renewed = Self.fixtures.appendingPathComponent("renewed-cert.pem").path
        let tls = try ReloadingTLSContext(files: files)
        try await Self.withOnePort(tls: tls) { port in
            let peer = try await TestUDPSocket.bind()
            let connection = try await TestTCPConnection.connect(
                to: port.address, tls: try NIOSSLContext(configuration: Self.clientTLS(trusting: old)))
            let relayed = try await Self.relayOverStream(connection, to: peer)
            let member = try await Self.joinOverWebSocket(port, trusting: old)
            #expect(try tls.reloadIfChanged() == false)

            try install("renewed-cert.pem", "renewed-key.pem")
            #expect(try tls.reloadIfChanged())
            #expect(try await Self.health(port, trusting: renewed) == "200 ok")
            await #expect(throws: (any Error).self) { try await Self.health(port, trusting: old) }
            _ = try await Self.binding(port, trusting: renewed)

            // A certificate with another's key is refused; the one in use stays.
            try install("cert.pem", "renewed-key.pem")
            #expect(throws: (any Error).self) { try tls.reload() }
            #expect(try await Self.health(port, trusting: renewed) == "200 ok")

            try await Self.expectRelaying(connection, peer: peer, relayed: relayed, payload: "after reload")
            member.send(.ping)
            var messages = member.messages.makeAsyncIterator()
            var ponged = false
            while let message = await messages.next() {
                if case .pong = message {
                    ponged = true
                    break
                }
            }
            #expect(ponged)
            #expect(await port.relay.relayStatistics().allocations == 1)
            await connection.close()
            await peer.close()
            member.close()
        }
    }
}
