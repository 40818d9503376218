import NIOCore
import NIOPosix
import PartyLineTesting
import RelayServer
import STUN
import TURN
import TURNClient
import Testing

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

    @Test("Connect to a peer, an incoming peer connection, ConnectionBind, bytes both ways, teardown")
    func tcpRelay() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let serverAddress = try #require(server.address(.tcp))
            let control = try await TestTCPConnection.connect(to: serverAddress)
            var auth = TURNClientAuthentication(username: "alice", password: "wonderland")
            let allocation = try await TURNStreamEndToEndTests.request(
                control, &auth, .allocate, [.requestedTransport(6)])
            let relayed = try TURNRelayEndToEndTests.relayed(allocation)
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
}
