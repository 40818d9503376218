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

    /// alice's long-term key in realm "r", as the server signs with it.
    static let key = try! STUNKey.longTerm(username: "alice", realm: "r", password: "wonderland")!

    /// The server's answer to `request`, signed with `key` when given.
    static func answer(
        _ request: ByteBuffer, _ messageClass: STUNMessageClass, _ attributes: [STUNAttribute],
        signedWith: STUNKey? = nil
    ) throws -> ByteBuffer {
        let message = try STUNMessage(datagram: request)
        return STUNMessage(
            type: STUNMessageType(method: message.type.method, messageClass: messageClass),
            transactionID: message.transactionID, attributes: attributes
        ).encoded(signing: signedWith.map { STUNSigning(key: $0) }, fingerprint: true)
    }

    /// A client past its first challenge: the next request it sends is signed.
    static func challenged(_ dataPath: TURNDataPath = .channel) throws -> (TURNAllocationClient, ByteBuffer) {
        var client = TURNAllocationClient(
            authentication: TURNClientAuthentication(username: "alice", password: "wonderland"), dataPath: dataPath)
        let first = client.allocate()
        let challenge = try answer(
            first, .errorResponse, [.errorCode(STUNErrorCode(code: 401)), .realm("r"), .nonce("n1")])
        guard case .retry(let signed)? = client.handle(response: challenge) else { throw TestFailure() }
        return (client, signed)
    }

    struct TestFailure: Error {}

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
        let attributes: [STUNAttribute] = [
            .xorRelayedAddress(Self.relayed), .xorMappedAddress(Self.peer), .lifetime(600),
        ]
        let unsigned = try Self.answer(signed, .successResponse, attributes)
        #expect(client.handle(response: unsigned) == nil, "RFC 8489 §9.2.5: an unsigned success is discarded")
        let forged = try Self.answer(
            signed, .successResponse, attributes, signedWith: STUNKey(bytes: Array(repeating: 7, count: 16)))
        #expect(client.handle(response: forged) == nil, "a success signed with another key is discarded")
        let success = try Self.answer(signed, .successResponse, attributes, signedWith: Self.key)
        #expect(client.handle(response: success) == .allocated(relayed: Self.relayed))
        #expect(client.mappedAddress == Self.peer && client.phase == .allocated)

        let bind = client.bind(to: Self.peer)
        let request = try STUNMessage(datagram: bind)
        #expect(request.type.method == STUNMethod.channelBind)
        #expect(request.attribute(.channelNumber) == .channelNumber(TURNAllocationClient.channel))
        #expect(client.handle(response: try Self.answer(bind, .successResponse, [], signedWith: Self.key)) == .bound)
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
        #expect(
            client.handle(response: try Self.answer(release, .successResponse, [], signedWith: Self.key)) == .released)
    }

    @Test("indication path: Send indication out, Data indication only from the peer back")
    func indicationPath() throws {
        var (client, allocate) = try Self.challenged(.indication)
        _ = client.handle(
            response: try Self.answer(
                allocate, .successResponse, [.xorRelayedAddress(Self.relayed)], signedWith: Self.key))
        let permission = client.bind(to: Self.peer)
        #expect(try STUNMessage(datagram: permission).type.method == .createPermission)
        #expect(
            client.handle(response: try Self.answer(permission, .successResponse, [], signedWith: Self.key)) == .bound)
        #expect(client.phase == .ready)
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

    @Test("438 brings a retry with the new nonce, three challenges per request at most; 437 to a release is released")
    func staleNonceAndRelease() throws {
        var (client, allocate) = try Self.challenged()
        var request = allocate
        for nonce in 2...3 {
            let stale = try Self.answer(
                request, .errorResponse, [.errorCode(STUNErrorCode(code: 438)), .realm("r"), .nonce("n\(nonce)")])
            guard case .retry(let again)? = client.handle(response: stale) else {
                Issue.record("no retry after 438 number \(nonce - 1)")
                return
            }
            #expect(try STUNMessage(datagram: again).attribute(.nonce) == .nonce("n\(nonce)"))
            request = again
        }
        let fourth = try Self.answer(
            request, .errorResponse, [.errorCode(STUNErrorCode(code: 438)), .realm("r"), .nonce("n4")])
        guard case .failed(let reason)? = client.handle(response: fourth) else {
            Issue.record("a server answering 438 forever kept the client retrying")
            return
        }
        #expect(reason.contains("438"))

        var (releasing, first) = try Self.challenged()
        _ = releasing.handle(
            response: try Self.answer(first, .successResponse, [.xorRelayedAddress(Self.relayed)], signedWith: Self.key)
        )
        let release = releasing.release()
        let gone = try Self.answer(
            release, .errorResponse, [.errorCode(STUNErrorCode(code: 437))], signedWith: Self.key)
        #expect(releasing.handle(response: gone) == .released)
        #expect(releasing.phase == .released)
    }
}
