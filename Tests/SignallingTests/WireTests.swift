import Crypto
import Foundation
import Shared
import Signalling
import Testing

@Suite("Join tokens and message codec")
struct WireTests {
    let signer = JoinTokenSigner(secret: "test secret")
    let token = JoinToken(session: "s1", member: "alice", pseudonym: "calm-otter-42", expires: 2_000)

    @Test("a signed token verifies until it expires; forged, expired and malformed tokens get their codes")
    func joinTokens() throws {
        let text = signer.sign(token)
        #expect(try signer.verify(text, now: 1_999) == token)
        #expect(throws: JoinTokenError.expired) { try signer.verify(text, now: 2_000) }
        #expect(throws: JoinTokenError.forged) { try JoinTokenSigner(secret: "other").verify(text, now: 1_000) }
        // A token whose claims were edited (another member) keeps the old MAC: forged.
        let other = signer.sign(JoinToken(session: "s1", member: "mallory", pseudonym: "x", expires: 2_000))
        let spliced = other.split(separator: ".")[0] + "." + text.split(separator: ".")[1]
        #expect(throws: JoinTokenError.forged) { try signer.verify(String(spliced), now: 1_000) }
        for malformed in ["", "abc", "a.b.c", String(repeating: "x", count: 3000), "###.###"] {
            #expect(throws: JoinTokenError.malformed) { try signer.verify(malformed, now: 1_000) }
        }
    }

    @Test("client messages decode; invalid JSON, unknown types, missing fields and oversized texts get codes")
    func clientMessages() throws {
        func decode(_ text: String) throws(MessageError) -> ClientMessage { try ClientMessage.decode(Array(text.utf8)) }
        #expect(try decode(#"{"type":"join","version":1,"token":"t"}"#) == .join(version: 1, token: "t"))
        #expect(try decode(#"{"type":"offer","to":"p","sdp":"v=0"}"#) == .offer(to: "p", sdp: "v=0"))
        #expect(
            try decode(#"{"type":"candidate","to":"p","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}"#)
                == .candidate(to: "p", candidate: ICECandidate(candidate: "c", sdpMid: "0", sdpMLineIndex: 0)))
        #expect(try decode(#"{"type":"vote","turn":2,"vote":"deny"}"#) == .vote(turn: 2, vote: .deny))
        #expect(try decode(#"{"type":"request-prompt"}"#) == .requestPrompt)
        #expect(throws: MessageError.invalidJSON) { try decode("{not json") }
        #expect(throws: MessageError.unknownType) { try decode(#"{"type":"teleport"}"#) }
        #expect(throws: MessageError.invalidMessage) { try decode(#"{"type":"vote","turn":"two"}"#) }
        #expect(throws: MessageError.invalidMessage) { try decode(#"[1,2]"#) }
        #expect(throws: MessageError.invalidMessage) { try decode(#"{"type":"request","text":""}"#) }
        let big = #"{"type":"offer","to":"p","sdp":""# + String(repeating: "a", count: 20_000) + #""}"#
        #expect(throws: MessageError.oversized) { try decode(big) }
    }

    @Test("server messages encode with their type and fields")
    func serverMessages() throws {
        let json = ServerMessage.voteAck(turn: 3, vote: .approve).encoded()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "vote-ack" && object["turn"] as? Int == 3)
        #expect(object["vote"] as? String == "approve")
        let error = ServerMessage.error(code: "wrong-turn", message: "m").encoded()
        #expect(error.contains(#""code":"wrong-turn""#) && error.contains(#""type":"error""#))
    }
}
