import NIOCore
import STUN
import TURN
import TURNClient
import Testing

/// The client machine alone: answers written the way a server writes them, no sockets.
@Suite("TURN allocation client machine")
struct TURNAllocationClientTests {
    static let relayed = TransportAddress(ip: IPAddress(parsing: "192.0.2.7")!, port: 50_000)
    static let peer = TransportAddress(ip: IPAddress(parsing: "198.51.100.9")!, port: 40_000)

    static func answer(
        _ request: ByteBuffer, _ messageClass: STUNMessageClass, _ attributes: [STUNAttribute]
    ) throws -> ByteBuffer {
        let message = try STUNMessage(datagram: request)
        return STUNMessage(
            type: STUNMessageType(method: message.type.method, messageClass: messageClass),
            transactionID: message.transactionID, attributes: attributes
        ).encoded(fingerprint: true)
    }

    @Test("401 then signed retry, allocated, channel bound, data wrapped and unwrapped, released")
    func channelPath() throws {
        var client = TURNAllocationClient(
            authentication: TURNClientAuthentication(username: "alice", password: "wonderland"), dataPath: .channel)
        let first = client.allocate()
        #expect(try STUNMessage(datagram: first).attribute(.username) == nil)
        let challenge = try Self.answer(
            first, .errorResponse, [.errorCode(STUNErrorCode(code: 401)), .realm("r"), .nonce("n1")])
        guard case .retry(let signed)? = client.handle(response: challenge) else {
            Issue.record("no retry after 401")
            return
        }
        #expect(try STUNMessage(datagram: signed).attribute(.username) == .username("alice"))
        #expect(client.outstandingRequest == signed)
        #expect(client.handle(response: challenge) == nil, "the old transaction's answer is ignored")
        let success = try Self.answer(
            signed, .successResponse,
            [.xorRelayedAddress(Self.relayed), .xorMappedAddress(Self.peer), .lifetime(600)])
        #expect(client.handle(response: success) == .allocated(relayed: Self.relayed))
        #expect(client.mappedAddress == Self.peer && client.phase == .allocated)

        let bind = client.bind(to: Self.peer)
        let request = try STUNMessage(datagram: bind)
        #expect(request.type.method == STUNMethod.channelBind)
        #expect(request.attribute(.channelNumber) == .channelNumber(TURNAllocationClient.channel))
        #expect(client.handle(response: try Self.answer(bind, .successResponse, [])) == .bound)
        #expect(client.phase == .ready && client.outstandingRequest == nil)

        var wrapped = ByteBuffer()
        client.wrap(ByteBuffer(string: "abcde"), padded: true, into: &wrapped)
        #expect(wrapped.readableBytes == 12, "4 header + 5 data + 3 padding")
        #expect(client.unwrap(wrapped) == ByteBuffer(string: "abcde"))
        var other = ByteBuffer()
        ChannelData(channel: 0x4001, data: ByteBuffer(string: "x")).encode(into: &other, padded: false)
        #expect(client.unwrap(other) == nil, "another channel's data is not this peer's")

        let release = client.release()
        #expect(try STUNMessage(datagram: release).attribute(.lifetime) == .lifetime(0))
        #expect(client.handle(response: try Self.answer(release, .successResponse, [])) == .released)
    }

    @Test("indication path: Send indication out, Data indication only from the peer back")
    func indicationPath() throws {
        var client = TURNAllocationClient(
            authentication: TURNClientAuthentication(username: "alice", password: "wonderland"), dataPath: .indication)
        let allocate = client.allocate()
        _ = client.handle(response: try Self.answer(allocate, .successResponse, [.xorRelayedAddress(Self.relayed)]))
        let permission = client.bind(to: Self.peer)
        #expect(try STUNMessage(datagram: permission).type.method == .createPermission)
        var send = ByteBuffer()
        client.wrap(ByteBuffer(string: "hello"), padded: false, into: &send)
        let indication = try STUNMessage(datagram: send)
        #expect(indication.type == STUNMessageType(method: .send, messageClass: .indication))
        #expect(indication.attribute(.xorPeerAddress) == .xorPeerAddress(Self.peer))
        func data(from peer: TransportAddress) -> ByteBuffer {
            STUNMessage(
                type: STUNMessageType(method: .data, messageClass: .indication),
                attributes: [.xorPeerAddress(peer), .data(ByteBuffer(string: "back"))]
            ).encoded()
        }
        #expect(client.unwrap(data(from: Self.peer)) == ByteBuffer(string: "back"))
        #expect(client.unwrap(data(from: Self.relayed)) == nil)
    }

    @Test("a refusal fails the allocation with its code; a success without a relayed address fails too")
    func refusals() throws {
        var client = TURNAllocationClient(
            authentication: TURNClientAuthentication(username: "alice", password: "wonderland"), dataPath: .channel)
        let allocate = client.allocate()
        let refused = try Self.answer(allocate, .errorResponse, [.errorCode(STUNErrorCode(code: 486))])
        guard case .failed(let reason)? = client.handle(response: refused) else {
            Issue.record("486 did not fail the allocation")
            return
        }
        #expect(reason.contains("486"))
        var bare = TURNAllocationClient(
            authentication: TURNClientAuthentication(username: "alice", password: "wonderland"), dataPath: .channel)
        let request = bare.allocate()
        #expect(
            bare.handle(response: try Self.answer(request, .successResponse, []))
                == .failed("Allocate success without XOR-RELAYED-ADDRESS"))
        #expect(bare.handle(response: ByteBuffer(bytes: [0, 1, 2])) == nil, "garbage is not an answer")
    }
}
