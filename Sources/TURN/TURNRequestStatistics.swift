import NIOCore
import STUN

/// What a table's TURN requests came to, counted as the table answers them. Plain integers: a table belongs
/// to one event loop, and the counts are read on it.
public struct TURNRequestStatistics: Hashable, Sendable {
    /// A method and how it was answered.
    public struct Outcome: Hashable, Sendable {
        public var method: STUNMethod
        /// 200 for a success response, the error code for an error response, 0 when no answer was sent (the
        /// client's address was over its request rate).
        public var code: Int

        public init(method: STUNMethod, code: Int) {
            self.method = method
            self.code = code
        }
    }

    public var outcomes: [Outcome: Int] = [:]
    /// Requests not authenticated, by reason (the challenge of a client's first request included).
    public var refusals: [TURNAuthenticator.Refusal: Int] = [:]

    public init() {}

    /// Requests of every method answered with `code` (0: not answered).
    public func count(code: Int) -> Int {
        outcomes.reduce(0) { $0 + ($1.key.code == code ? $1.value : 0) }
    }

    /// Counts the answer to a `method` request among `actions`: one success or error response, or none.
    mutating func record(_ method: STUNMethod, _ actions: [AllocationTable.Action]) {
        var code = 0
        for case .toClient(_, let bytes) in actions {
            if let answer = Self.responseCode(bytes) {
                code = answer
                break
            }
        }
        outcomes[Outcome(method: method, code: code), default: 0] += 1
    }

    mutating func refused(_ reason: TURNAuthenticator.Refusal) { refusals[reason, default: 0] += 1 }

    /// 200 for an encoded success response, its ERROR-CODE for an error response, nil for anything else. A
    /// walk over the attributes of the server's own message, no decoding.
    static func responseCode(_ bytes: ByteBuffer) -> Int? {
        guard let type = bytes.getInteger(at: bytes.readerIndex, as: UInt16.self) else { return nil }
        switch type & 0x0110 {
        case 0x0100: return 200
        case 0x0110: break
        default: return nil
        }
        var offset = bytes.readerIndex + 20
        while let attribute = bytes.getInteger(at: offset, as: UInt16.self),
            let length = bytes.getInteger(at: offset + 2, as: UInt16.self)
        {
            if attribute == 0x0009,
                let errorClass = bytes.getInteger(at: offset + 6, as: UInt8.self),
                let number = bytes.getInteger(at: offset + 7, as: UInt8.self)
            {
                return Int(errorClass & 0x07) * 100 + Int(number)
            }
            offset += 4 + (Int(length) + 3) & ~3
        }
        return nil
    }

    public static func + (lhs: Self, rhs: Self) -> Self {
        var sum = lhs
        sum.outcomes.merge(rhs.outcomes, uniquingKeysWith: +)
        sum.refusals.merge(rhs.refusals, uniquingKeysWith: +)
        return sum
    }
}
