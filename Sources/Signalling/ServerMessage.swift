import Foundation
import Shared

/// A member's part in a turn.
public enum Role: String, Sendable, Hashable, Codable {
    case prover, verifier, observer
}

/// A turn as one member sees it: at its start, and in a reconnect snapshot.
public struct TurnView: Sendable, Hashable, Codable {
    public let turn: Int
    public let prover: String
    public let verifiers: [String]
    public let role: Role
    public let prompt: String
    public let threshold: Int
    /// Milliseconds until the turn is decided with the votes so far.
    public let timeLeftMillis: Int
    /// Whether this member has voted (verifiers only; the vote itself stays secret).
    public let voted: Bool
    /// Credentials scoped to this turn, for the prover and the verifiers.
    public let iceServers: [ICEServer]
    /// The prover only: one `iceServers` list per verifier (by pseudonym), for the peer connection to that
    /// verifier. Each has its own TURN subject (`session/turn/prover/verifier`, pseudonyms), so the relay's per-subject
    /// quota holds one connection's allocations, however many verifiers the prover streams to.
    public let verifierIceServers: [String: [ICEServer]]?
}

/// A decided turn, announced to the whole group: the tally, never who voted what.
public struct TurnResultView: Sendable, Hashable, Codable {
    public let turn: Int
    public let prover: String
    public let outcome: GroupSession.Outcome
    public let approvals: Int
    public let denials: Int
    public let threshold: Int
}

/// The first message on every connection, and the snapshot a resumed connection starts from.
public struct Welcome: Sendable, Hashable, Codable {
    public let version: Int
    public let session: String
    public let you: String
    public let roster: [String]
    public let order: [String]
    public let iceServers: [ICEServer]
    public let resumed: Bool
    public let turn: TurnView?
    public let results: [TurnResultView]
}

/// Each member's final outcome, as `session-result` announces it.
public struct MemberResult: Sendable, Hashable, Codable {
    public let pseudonym: String
    public let outcome: GroupSession.Outcome

    public init(pseudonym: String, outcome: GroupSession.Outcome) {
        self.pseudonym = pseudonym
        self.outcome = outcome
    }
}

/// A message from the server to one member's client; see docs/signalling.md.
public enum ServerMessage: Sendable, Hashable {
    case welcome(Welcome)
    case turnStart(TurnView)
    case offer(from: String, sdp: String)
    case answer(from: String, sdp: String)
    case candidate(from: String, candidate: ICECandidate)
    case request(from: String, text: String)
    case prompt(turn: Int, text: String)
    case voteAck(turn: Int, vote: GroupSession.Vote)
    case streamStop(turn: Int, prover: String)
    case turnResult(TurnResultView)
    case sessionResult([MemberResult])
    /// Fewer members than `minimum` were present at the start: the session ends without turns, and the
    /// coordinator places those `present` in a new group.
    case undersized(present: Int, minimum: Int)
    case presence(pseudonym: String, state: String)
    case pong
    case error(code: String, message: String)

    /// The message's `type` on the wire.
    public var type: String {
        switch self {
        case .welcome: "welcome"
        case .turnStart: "turn-start"
        case .offer: "offer"
        case .answer: "answer"
        case .candidate: "candidate"
        case .request: "request"
        case .prompt: "prompt"
        case .voteAck: "vote-ack"
        case .streamStop: "stream-stop"
        case .turnResult: "turn-result"
        case .sessionResult: "session-result"
        case .undersized: "undersized"
        case .presence: "presence"
        case .pong: "pong"
        case .error: "error"
        }
    }

    /// The JSON text of the message.
    public func encoded() -> String {
        // Strings, numbers and arrays of them always encode.
        String(decoding: try! JSONEncoder().encode(Wire(message: self)), as: UTF8.self)
    }

    private struct Wire: Encodable {
        let message: ServerMessage

        struct Key: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.container(keyedBy: Key.self)
            try fields.encode(message.type, forKey: Key("type"))
            switch message {
            case .welcome(let welcome):
                try welcome.encode(to: encoder)
            case .turnStart(let view):
                try view.encode(to: encoder)
            case .offer(let from, let sdp), .answer(let from, let sdp):
                try fields.encode(from, forKey: Key("from"))
                try fields.encode(sdp, forKey: Key("sdp"))
            case .candidate(let from, let candidate):
                try fields.encode(from, forKey: Key("from"))
                try fields.encode(candidate, forKey: Key("candidate"))
            case .request(let from, let text):
                try fields.encode(from, forKey: Key("from"))
                try fields.encode(text, forKey: Key("text"))
            case .prompt(let turn, let text):
                try fields.encode(turn, forKey: Key("turn"))
                try fields.encode(text, forKey: Key("text"))
            case .voteAck(let turn, let vote):
                try fields.encode(turn, forKey: Key("turn"))
                try fields.encode(vote, forKey: Key("vote"))
            case .streamStop(let turn, let prover):
                try fields.encode(turn, forKey: Key("turn"))
                try fields.encode(prover, forKey: Key("prover"))
            case .turnResult(let result):
                try result.encode(to: encoder)
            case .sessionResult(let results):
                try fields.encode(results, forKey: Key("results"))
            case .undersized(let present, let minimum):
                try fields.encode(present, forKey: Key("present"))
                try fields.encode(minimum, forKey: Key("minimum"))
            case .presence(let pseudonym, let state):
                try fields.encode(pseudonym, forKey: Key("pseudonym"))
                try fields.encode(state, forKey: Key("state"))
            case .pong:
                break
            case .error(let code, let text):
                try fields.encode(code, forKey: Key("code"))
                try fields.encode(text, forKey: Key("message"))
            }
        }
    }
}
