import NIOCore
import NIOPosix
import PartyLineTesting
import RelayServer
import STUN
import TURN
import TURNClient
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// RFC 6062 over real sockets: a TCP allocation, a Connect to a TCP peer, an incoming peer connection,
/// ConnectionBind on data connections, raw bytes both ways, and teardown.
@Suite("TURN TCP relay (RFC 6062) over real sockets")
struct TURNTCPRelayEndToEndTests {
    /// A TCP echo server on loopback: the peer a Connect reaches.
    final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(data, promise: nil)
        }
    }

    func startEchoServer() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// A TCP allocation (REQUESTED-TRANSPORT 6) made over a new control connection to `server`.
    func tcpAllocation(
        at server: SocketAddress, _ auth: inout TURNClientAuthentication
    ) async throws -> (control: TestTCPConnection, relayed: TransportAddress) {
        let control = try await TestTCPConnection.connect(to: server)
        let allocation = try await TURNStreamEndToEndTests.request(control, &auth, .allocate, [.requestedTransport(6)])
        return (control, try TURNRelayEndToEndTests.relayed(allocation))
    }

    @Test("Connect to a peer, an incoming peer connection, ConnectionBind, bytes both ways, teardown")
    func tcpRelay() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let serverAddress = try #require(server.address(.tcp))
            var auth = TURNClientAuthentication(username: "alice", password: "wonderland")
            let (control, relayed) = try await tcpAllocation(at: serverAddress, &auth)
            let echo = try await startEchoServer()
            let echoSocket = try #require(echo.localAddress)
            let echoAddress = try #require(TransportAddress(echoSocket))
            let permitted = try await TURNStreamEndToEndTests.request(
                control, &auth, .createPermission, [.xorPeerAddress(echoAddress)])
            #expect(permitted.type.messageClass == .successResponse)

            // Outgoing: Connect, then bind the CONNECTION-ID on a new connection.
            let connected = try await TURNStreamEndToEndTests.request(
                control, &auth, .connect, [.xorPeerAddress(echoAddress)])
            guard case .connectionID(let id) = try #require(connected.attribute(.connectionID)) else { return }
            let again = try await TURNStreamEndToEndTests.request(
                control, &auth, .connect, [.xorPeerAddress(echoAddress)])
            #expect(again.errorCode?.code == 446)
            let data = try await TestTCPConnection.connect(to: serverAddress)
            let bound = try await TURNStreamEndToEndTests.request(data, &auth, .connectionBind, [.connectionID(id)])
            #expect(bound.type.messageClass == .successResponse)
            try await data.write(ByteBuffer(string: "through the relay"))
            #expect(try await data.read(count: 17) == ByteBuffer(string: "through the relay"))

            // Incoming: a peer connects to the relayed address; the client is told and binds it.
            let peer = try await TestTCPConnection.connect(to: relayed.socketAddress)
            let attemptBytes = try await TURNStreamEndToEndTests.frame(control)
            let attempt = try STUNMessage(datagram: attemptBytes)
            #expect(attempt.type == STUNMessageType(method: .connectionAttempt, messageClass: .indication))
            let peerLocal = try #require(peer.localAddress)
            #expect(attempt.attribute(.xorPeerAddress) == .xorPeerAddress(try #require(TransportAddress(peerLocal))))
            guard case .connectionID(let incoming) = try #require(attempt.attribute(.connectionID)) else { return }
            try await peer.write(ByteBuffer(string: "early"))
            let data2 = try await TestTCPConnection.connect(to: serverAddress)
            let bound2 = try await TURNStreamEndToEndTests.request(
                data2, &auth, .connectionBind, [.connectionID(incoming)])
            #expect(bound2.type.messageClass == .successResponse)
            #expect(try await data2.read(count: 5) == ByteBuffer(string: "early"), "bytes sent before the bind")
            try await data2.write(ByteBuffer(string: "pong"))
            #expect(try await peer.read(count: 4) == ByteBuffer(string: "pong"))

            // Closing a data connection closes its peer; closing the control connection ends everything.
            await data2.close()
            #expect(try await peer.waitForClose())
            await control.close()
            #expect(try await data.waitForClose())
            try #require(await eventually { await server.relayStatistics().allocations == 0 })
            try await echo.close()
        }
    }

    @Test("Bytes sent the moment ConnectionBind succeeds reach the peer, even when they look like a cut STUN frame")
    func bytesRightAfterConnectionBind() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let serverAddress = try #require(server.address(.tcp))
            var auth = TURNClientAuthentication(username: "alice", password: "wonderland")
            let (control, relayed) = try await tcpAllocation(at: serverAddress, &auth)
            _ = try await TURNStreamEndToEndTests.request(
                control, &auth, .createPermission, [.xorPeerAddress(TransportAddress(ip: relayed.ip, port: 9))])
            // Application bytes that begin like a STUN header announcing more than follows: a STUN framer
            // still reading the data connection would hold them back, waiting for the rest.
            var payload = [UInt8](repeating: 0x5A, count: 170)
            payload.replaceSubrange(0..<4, with: [0x00, 0x01, 0x01, 0x00])
            for round in 0..<100 {
                let peer = try BlockingSocket(connectingTo: relayed.socketAddress)
                defer { peer.close() }
                let attempt = try STUNMessage(datagram: try await TURNStreamEndToEndTests.frame(control))
                guard case .connectionID(let id) = try #require(attempt.attribute(.connectionID)) else { return }
                let data = try BlockingSocket(connectingTo: serverAddress)
                defer { data.close() }
                let response = try await TURNStreamEndToEndTests.request(
                    &auth, .connectionBind, [.connectionID(id)], send: data.send, receive: data.receiveSTUNMessage)
                try #require(response.type.messageClass == .successResponse)
                try data.send(ByteBuffer(bytes: payload))
                let arrived = peer.receive(count: payload.count)
                try #require(arrived == payload, "round \(round): \(arrived.count) of \(payload.count) bytes or others")
            }
            await control.close()
        }
    }
}

/// A blocking TCP socket on loopback, so a test sends the moment it has read (as a C client such as coturn's
/// uclient does) rather than after a hop through an event loop. Reads give up after two seconds.
private struct BlockingSocket {
    let descriptor: Int32

    init(connectingTo address: SocketAddress) throws {
        descriptor = socket(address.protocol == .inet6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = address.withSockAddr { connect(descriptor, $0, socklen_t($1)) }
        guard connected == 0 else {
            defer { close() }
            throw IOError(errnoCode: errno, reason: "connect")
        }
    }

    func send(_ bytes: ByteBuffer) throws {
        let sent = bytes.withUnsafeReadableBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.readableBytes else { throw IOError(errnoCode: errno, reason: "send") }
    }

    /// Reads `count` bytes; fewer if the connection ended or two seconds passed first.
    func receive(count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let received = receive(into: &buffer)
        return Array(buffer.prefix(received))
    }

    /// One STUN message: its 20-byte header, then the length the header gives.
    func receiveSTUNMessage() throws -> ByteBuffer {
        var header = [UInt8](repeating: 0, count: 20)
        guard receive(into: &header) == 20 else { throw IOError(errnoCode: errno, reason: "recv") }
        var body = [UInt8](repeating: 0, count: Int(header[2]) << 8 | Int(header[3]))
        guard receive(into: &body) == body.count else { throw IOError(errnoCode: errno, reason: "recv") }
        return ByteBuffer(bytes: header + body)
    }

    private func receive(into buffer: inout [UInt8]) -> Int {
        var received = 0
        while received < buffer.count {
            let got = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress! + received, $0.count - received, 0)
            }
            if got <= 0 { break }
            received += got
        }
        return received
    }

    func close() { _ = Glibc.close(descriptor) }
}
