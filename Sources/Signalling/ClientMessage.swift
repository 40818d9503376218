import Foundation

/// Why a client's message was refused before it reached the session; the raw value is the error code.
public enum MessageError: String, Error, Sendable, Hashable {
    case oversized = "message-too-large"
    case invalidJSON = "invalid-json"
    case unknownType = "unknown-type"
    case invalidMessage = "invalid-message"
}

extension MessageError {
    /// Decodes JSON, mapping every failure to its code: text that is not JSON is `invalid-json`, JSON of
    /// the wrong shape `invalid-message`; a `MessageError` thrown while decoding passes through.
    static func decoding<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(MessageError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as MessageError {
            throw error
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw .invalidJSON
        } catch {
            throw .invalidMessage
        }
    }
}

/// One ICE candidate as WebRTC's `RTCIceCandidateInit` carries it.
public struct ICECandidate: Sendable, Hashable, Codable {
    public let candidate: String
    public let sdpMid: String?
    public let sdpMLineIndex: Int?

    public init(candidate: String, sdpMid: String? = nil, sdpMLineIndex: Int? = nil) {
        self.candidate = candidate
        self.sdpMid = sdpMid
        self.sdpMLineIndex = sdpMLineIndex
    }
}

/// A message from a member's client. Peers are addressed by pseudonym (`to`); see docs/signalling.md.
public enum ClientMessage: Sendable, Hashable {
    /// The first message on a connection.
    case join(version: Int, token: String)
    case offer(to: String, sdp: String)
    case answer(to: String, sdp: String)
    case candidate(to: String, candidate: ICECandidate)
    /// Verifier → prover text ("turn a little more to the left").
    case request(text: String)
    /// A verifier asks the server for a new liveness prompt.
    case requestPrompt
    case vote(turn: Int, vote: GroupSession.Vote)
    case ping
    case leave

    /// The largest message accepted, in bytes of JSON text (an SDP fits several times over).
    public static let maximumSize = 16 * 1024
    /// The longest `request` text, in characters (extended grapheme clusters, what a person counts)...
    public static let maximumRequestLength = 500
    /// ...and in bytes of UTF-8, so that one letter with thousands of combining marks is not "one character".
    public static let maximumRequestBytes = 2_000

    /// Decodes one text frame.
    public static func decode(_ bytes: some Collection<UInt8>) throws(MessageError) -> ClientMessage {
        guard bytes.count <= maximumSize else { throw .oversized }
        return try MessageError.decoding(Wire.self, from: bytes).message
    }

    private struct Wire: Decodable {
        let message: ClientMessage

        enum Keys: String, CodingKey {
            case type, version, token, to, sdp, candidate, text, turn, vote
        }

        init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: Keys.self)
            switch try fields.decode(String.self, forKey: .type) {
            case "join":
                message = .join(
                    version: try fields.decode(Int.self, forKey: .version),
                    token: try fields.decode(String.self, forKey: .token))
            case "offer":
                message = .offer(
                    to: try fields.decode(String.self, forKey: .to), sdp: try fields.decode(String.self, forKey: .sdp))
            case "answer":
                message = .answer(
                    to: try fields.decode(String.self, forKey: .to), sdp: try fields.decode(String.self, forKey: .sdp))
            case "candidate":
                message = .candidate(
                    to: try fields.decode(String.self, forKey: .to),
                    candidate: try fields.decode(ICECandidate.self, forKey: .candidate))
            case "request":
                let text = try fields.decode(String.self, forKey: .text)
                guard !text.isEmpty, text.utf8.count <= ClientMessage.maximumRequestBytes,
                    text.count <= ClientMessage.maximumRequestLength
                else {
                    throw MessageError.invalidMessage
                }
                message = .request(text: text)
            case "request-prompt":
                message = .requestPrompt
            case "vote":
                message = .vote(
                    turn: try fields.decode(Int.self, forKey: .turn),
                    vote: try fields.decode(GroupSession.Vote.self, forKey: .vote))
            case "ping":
                message = .ping
            case "leave":
                message = .leave
            default:
                throw MessageError.unknownType
            }
        }
    }
}
