import ConnectionLimits
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PartyLineTesting
import RelayServer
import STUN
import TURN
import TURNClient
import Testing

/// TCP and TLS connections that never finish, never read, idle or crowd in: timed out, capped and held
/// back, over real sockets on loopback.
@Suite("Stream connection limits")
struct StreamLimitsEndToEndTests {
    static let binding = STUNMessage(type: .bindingRequest).encoded()

    func withServer(
        _ limits: StreamLimits, turn: Bool = false, tls: Bool = false, _ body: (RelayServer) async throws -> Void
    ) async throws {
        var configuration = RelayServerConfiguration.loopback(
            certificate: tls ? STUNServerEndToEndTests.certificate : nil)
        configuration.streams = limits
        if turn { configuration.turn = .loopback() }
        try await RelayServer.withRunning(configuration, body)
    }

    @Test("a connection that sends nothing, or half a header, is closed at the first-message timeout")
    func firstMessageTimeout() async throws {
        // The half header must be written before the timeout closes its connection: it is written first,
        // and the timeout leaves a loaded 2-core machine a second for it.
        try await withServer(StreamLimits(firstMessageTimeout: .seconds(1)), tls: true) { server in
            let partial = try await TestTCPConnection.connect(to: #require(server.address(.tcp)))
            try await partial.write(Self.binding.getSlice(at: 0, length: 10)!)
            let silent = try await TestTCPConnection.connect(to: #require(server.address(.tcp)))
            // A TLS client that never sends its ClientHello.
            let noHello = try await TestTCPConnection.connect(to: #require(server.address(.tls)))
            #expect(try await silent.waitForClose(timeout: .seconds(5)))
            #expect(try await partial.waitForClose(timeout: .seconds(5)))
            #expect(try await noHello.waitForClose(timeout: .seconds(5)))
            let timedOut = server.statistics()[.tcp].connectionsTimedOut + server.statistics()[.tls].connectionsTimedOut
            #expect(timedOut == 3)
        }
    }

    @Test("a connection without an allocation is closed after the idle timeout; one with an allocation stays")
    func idleTimeout() async throws {
        let limits = StreamLimits(firstMessageTimeout: .seconds(5), idleTimeout: .milliseconds(600))
        try await withServer(limits, turn: true) { server in
            let address = try #require(server.address(.tcp))
            let idle = try await TestTCPConnection.connect(to: address)
            try await idle.write(Self.binding)
            #expect(try await TURNStreamEndToEndTests.frame(idle).readableBytes > 20)
            // Bytes of a frame that never completes do not count as activity.
            let dripping = try await TestTCPConnection.connect(to: address)
            try await dripping.write(Self.binding)
            #expect(try await TURNStreamEndToEndTests.frame(dripping).readableBytes > 20)
            let dripTask = Task {
                for index in 0..<10 where dripping.isActive {
                    try? await dripping.write(Self.binding.getSlice(at: index, length: 1)!)
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            let allocated = try await TestTCPConnection.connect(to: address)
            var auth = TURNClientAuthentication(username: "alice", password: "wonderland")
            let allocation = try await TURNStreamEndToEndTests.request(
                allocated, &auth, .allocate, [.requestedTransport(17)])
            #expect(allocation.type.messageClass == .successResponse)
            #expect(try await idle.waitForClose(timeout: .seconds(5)))
            #expect(try await dripping.waitForClose(timeout: .seconds(5)))
            try await dripTask.value
            // Well past the idle timeout, the connection with an allocation is open and answers.
            try await Task.sleep(for: .milliseconds(1200))
            #expect(allocated.isActive)
            let refresh = try await TURNStreamEndToEndTests.request(allocated, &auth, .refresh, [.lifetime(600)])
            #expect(refresh.type.messageClass == .successResponse)
            #expect(server.statistics()[.tcp].connectionsTimedOut == 2)
        }
    }

    @Test("connections beyond the per-address cap are closed at once; a freed slot is served again")
    func perAddressCap() async throws {
        try await withServer(StreamLimits(maxConnectionsPerAddress: 3)) { server in
            let address = try #require(server.address(.tcp))
            var open: [TestTCPConnection] = []
            for _ in 0..<3 {
                let connection = try await TestTCPConnection.connect(to: address)
                try await connection.write(Self.binding)
                _ = try await TURNStreamEndToEndTests.frame(connection)
                open.append(connection)
            }
            let refused = try await TestTCPConnection.connect(to: address)
            #expect(try await refused.waitForClose(timeout: .seconds(5)))
            #expect(server.streamLimiter.refused == 1)
            #expect(server.streamLimiter.open == 3)
            await open[0].close()
            #expect(try await eventually(timeout: .seconds(5)) { server.streamLimiter.open == 2 })
            let again = try await TestTCPConnection.connect(to: address)
            try await again.write(Self.binding)
            #expect(try await TURNStreamEndToEndTests.frame(again).readableBytes > 20)
        }
    }

    @Test("a client that never reads stops being read: the server's answers stop at bounded buffers")
    func backpressure() async throws {
        // Its own event loop, so that the burst does not hold up the loops other tests share.
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = RelayServer(configuration: .loopback(), group: loop)
        try await server.start()
        do {
            let client = try await NonReadingClient.connect(to: #require(server.address(.tcp)), group: loop)
            // 3 MB of Binding requests: more answers (56 bytes each) than the kernel's buffers toward the
            // client hold (its 16 KiB receive buffer and the server's send buffer, at most 4 MiB by default).
            let batch = ByteBuffer(bytes: Array((0..<1000).map { _ in Array(Self.binding.readableBytesView) }.joined()))
            let sent = 150_000
            for _ in 0..<(sent / 1000) { client.channel.writeAndFlush(batch, promise: nil) }
            // The server stops reading once its answers cannot leave: the count settles below what was sent.
            var answered = -1
            for _ in 0..<60 {
                try await Task.sleep(for: .milliseconds(500))
                let now = server.statistics()[.tcp].answered
                if now == answered { break }
                answered = now
            }
            #expect(answered > 0 && answered < sent, "answered \(answered) of \(sent)")
            try await Task.sleep(for: .milliseconds(500))
            #expect(server.statistics()[.tcp].answered == answered)
            // Once the client reads, the server reads again.
            client.startReading()
            #expect(try await eventually(timeout: .seconds(10)) { server.statistics()[.tcp].answered > answered })
            await client.close()
        } catch {
            await server.stop()
            try await loop.shutdownGracefully()
            throw error
        }
        await server.stop()
        try await loop.shutdownGracefully()
    }
}

/// A TCP client that does not read until told to: it counts 20-byte-header STUN responses once it does.
final class NonReadingClient: Sendable {
    let channel: any Channel
    let responses: NIOLockedValueBox<Int>

    static func connect(to address: SocketAddress, group: any EventLoopGroup) async throws -> NonReadingClient {
        let responses = NIOLockedValueBox(0)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 16 * 1024)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(STUNStreamFramer()))
                    try channel.pipeline.syncOperations.addHandler(Counter(responses: responses))
                }
            }
            .connect(to: address).get()
        return NonReadingClient(channel: channel, responses: responses)
    }

    private init(channel: any Channel, responses: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.responses = responses
    }

    func startReading() {
        channel.setOption(.autoRead, value: true).whenComplete { _ in }
        channel.read()
    }

    func close() async { try? await channel.close() }

    private final class Counter: ChannelInboundHandler {
        typealias InboundIn = STUNStreamFrame
        let responses: NIOLockedValueBox<Int>
        init(responses: NIOLockedValueBox<Int>) { self.responses = responses }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            responses.withLockedValue { $0 += 1 }
        }
    }
}
