import Foundation

extension ServerMessage {
    /// Decodes a server message, as a client reads it.
    public static func decode(_ bytes: some Collection<UInt8>) throws(MessageError) -> ServerMessage {
        try MessageError.decoding(Wire.self, from: bytes).message
    }

    private struct Wire: Decodable {
        let message: ServerMessage

        enum Keys: String, CodingKey {
            case type, from, sdp, candidate, text, turn, vote, prover, results, pseudonym, state, code, message,
                present, minimum
        }

        init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: Keys.self)
            func string(_ key: Keys) throws -> String { try fields.decode(String.self, forKey: key) }
            func int(_ key: Keys) throws -> Int { try fields.decode(Int.self, forKey: key) }
            message =
                switch try string(.type) {
                case "welcome": .welcome(try Welcome(from: decoder))
                case "turn-start": .turnStart(try TurnView(from: decoder))
                case "offer": .offer(from: try string(.from), sdp: try string(.sdp))
                case "answer": .answer(from: try string(.from), sdp: try string(.sdp))
                case "candidate":
                    .candidate(
                        from: try string(.from), candidate: try fields.decode(ICECandidate.self, forKey: .candidate))
                case "request": .request(from: try string(.from), text: try string(.text))
                case "prompt": .prompt(turn: try int(.turn), text: try string(.text))
                case "vote-ack":
                    .voteAck(turn: try int(.turn), vote: try fields.decode(GroupSession.Vote.self, forKey: .vote))
                case "stream-stop": .streamStop(turn: try int(.turn), prover: try string(.prover))
                case "turn-result": .turnResult(try TurnResultView(from: decoder))
                case "session-result": .sessionResult(try fields.decode([MemberResult].self, forKey: .results))
                case "undersized": .undersized(present: try int(.present), minimum: try int(.minimum))
                case "presence": .presence(pseudonym: try string(.pseudonym), state: try string(.state))
                case "pong": .pong
                case "error": .error(code: try string(.code), message: try string(.message))
                default: throw MessageError.unknownType
                }
        }
    }
}

extension ClientMessage {
    /// The JSON text of the message, as a client sends it.
    public func encoded() -> String {
        var object: [String: any Encodable & Sendable]
        switch self {
        case .join(let version, let token): object = ["type": "join", "version": version, "token": token]
        case .offer(let to, let sdp): object = ["type": "offer", "to": to, "sdp": sdp]
        case .answer(let to, let sdp): object = ["type": "answer", "to": to, "sdp": sdp]
        case .candidate(let to, let candidate): object = ["type": "candidate", "to": to, "candidate": candidate]
        case .request(let text): object = ["type": "request", "text": text]
        case .requestPrompt: object = ["type": "request-prompt"]
        case .vote(let turn, let vote): object = ["type": "vote", "turn": turn, "vote": vote.rawValue]
        case .ping: object = ["type": "ping"]
        case .leave: object = ["type": "leave"]
        }
        // Strings, numbers and candidates always encode.
        return String(decoding: try! JSONEncoder().encode(object.mapValues(AnyEncodable.init)), as: UTF8.self)
    }

    private struct AnyEncodable: Encodable {
        let value: any Encodable
        init(_ value: any Encodable & Sendable) { self.value = value }
        func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    }
}
