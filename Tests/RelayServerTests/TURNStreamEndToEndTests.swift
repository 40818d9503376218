import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import TURN
import TURNClient
import Testing

/// TURN over a TCP client connection: framing, padded ChannelData, and the allocation ending with the
/// connection.
@Suite("TURN over TCP")
struct TURNStreamEndToEndTests {
    /// Reads one STUN message or ChannelData frame (padding consumed) from the connection.
    static func frame(_ connection: TestTCPConnection) async throws -> ByteBuffer {
        var header = try #require(await connection.read(count: 4))
        let first = header.getInteger(at: 0, as: UInt16.self)!
        let length = Int(header.getInteger(at: 2, as: UInt16.self)!)
        if first >> 14 == 0b01 {
            let padded = (length + 3) & ~3
            var body = try #require(await connection.read(count: padded))
            header.writeBuffer(&body)
            return header.getSlice(at: 0, length: 4 + length)!
        }
        var body = try #require(await connection.read(count: 16 + length))
        header.writeBuffer(&body)
        return header
    }

    static func request(
        _ connection: TestTCPConnection, _ auth: inout TURNClientAuthentication, _ method: STUNMethod,
        _ attributes: [STUNAttribute]
    ) async throws -> STUNMessage {
        try await request(
            &auth, method, attributes,
            send: { try await connection.write($0) }, receive: { try await frame(connection) })
    }

    /// A request over any stream: sent with `send`, its answer read with `receive`.
    static func request(
        _ auth: inout TURNClientAuthentication, _ method: STUNMethod, _ attributes: [STUNAttribute],
        send: (ByteBuffer) async throws -> Void, receive: () async throws -> ByteBuffer
    ) async throws -> STUNMessage {
        for _ in 0..<2 {
            try await send(auth.message(STUNMessageType(method: method, messageClass: .request), attributes))
            let bytes = try await receive()
            let response = try STUNMessage(datagram: bytes)
            if !auth.learn(from: response) {
                // Every answer to a signed request is signed with the same key, with SHA-256 when asked.
                let view = try STUNMessageView(datagram: bytes)
                #expect(auth.isAuthentic(view))
                #expect((view.messageIntegritySHA256Offset != nil) == auth.sha256)
                return response
            }
        }
        Issue.record("challenged twice")
        throw TURNTestClientError.noResponse(method)
    }

    @Test("SHA-256 signed allocation, padded ChannelData both ways, and deletion when the connection closes")
    func tcpAllocation() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let connection = try await TestTCPConnection.connect(to: #require(server.address(.tcp)))
            var auth = TURNClientAuthentication(username: "alice", password: "wonderland", sha256: true)
            let peer = try await TestUDPSocket.bind()
            let peerSocket = try #require(peer.localAddress)
            let peerAddress = try #require(TransportAddress(peerSocket))

            let allocation = try await Self.request(connection, &auth, .allocate, [.requestedTransport(17)])
            let relayed = try TURNRelayEndToEndTests.relayed(allocation)
            let bound = try await Self.request(
                connection, &auth, .channelBind, [.channelNumber(0x4444), .xorPeerAddress(peerAddress)])
            #expect(bound.type.messageClass == .successResponse)

            var frame = ByteBuffer()
            ChannelData(channel: 0x4444, data: ByteBuffer(string: "odd")).encode(into: &frame, padded: true)
            try await connection.write(frame)
            #expect(try await peer.receive() == ByteBuffer(string: "odd"))

            try await peer.send(ByteBuffer(string: "reply"), to: relayed.socketAddress)
            let back = try await Self.frame(connection)
            #expect(try ChannelData(decoding: back) == ChannelData(channel: 0x4444, data: ByteBuffer(string: "reply")))
            #expect(await server.relayStatistics().allocations == 1)

            await connection.close()
            try #require(await eventually { await server.relayStatistics().allocations == 0 })
            let droppedBefore = await server.relayStatistics().dropped
            try await peer.send(ByteBuffer(string: "gone"), to: relayed.socketAddress)
            #expect(try await connection.read(count: 1, timeout: .milliseconds(200)) == nil)
            #expect(await server.relayStatistics().dropped == droppedBefore)
            await peer.close()
        }
    }
}
