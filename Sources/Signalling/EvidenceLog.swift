import Crypto
import Shared

/// A session's evidence: every join, turn, prompt, vote and decision appended as an entry whose hash
/// covers the previous entry's hash (SHA-256), and at the end the head signed by the server (Ed25519),
/// so a later dispute can show what happened without storing any media. Time is passed in.
public struct EvidenceLog: Sendable {
    public struct Entry: Sendable, Hashable, Codable {
        public let index: Int
        /// Milliseconds since the Unix epoch.
        public let time: UInt64
        public let kind: String
        public let detail: String
        /// Hex SHA-256 of the previous entry (64 zeros for the first).
        public let previous: String
        /// Hex SHA-256 over `previous`, index, time, kind and detail.
        public let hash: String

        public init(index: Int, time: UInt64, kind: String, detail: String, previous: String, hash: String) {
            self.index = index
            self.time = time
            self.kind = kind
            self.detail = detail
            self.previous = previous
            self.hash = hash
        }
    }

    /// The last hash and the entry count, signed: what the server vouches for.
    public struct SignedHead: Sendable, Hashable, Codable {
        public let count: Int
        public let head: String
        /// Hex Ed25519 signature over `count` (8 bytes, big-endian) and the head's bytes.
        public let signature: String

        public init(count: Int, head: String, signature: String) {
            self.count = count
            self.head = head
            self.signature = signature
        }
    }

    public private(set) var entries: [Entry] = []

    static let genesis = String(repeating: "0", count: 64)

    public init() {}

    /// The hash of the last entry.
    public var head: String { entries.last?.hash ?? Self.genesis }

    /// Appends an entry chained to the last one.
    public mutating func append(kind: String, detail: String, time: UInt64) {
        let previous = head
        let index = entries.count
        let hash = Self.hash(previous: previous, index: index, time: time, kind: kind, detail: detail)
        entries.append(Entry(index: index, time: time, kind: kind, detail: detail, previous: previous, hash: hash))
    }

    /// Whether every entry is in place and its hash covers exactly what it says.
    public static func verify(_ entries: [Entry]) -> Bool { firstInvalidEntry(entries) == nil }

    /// The index of the first entry that is out of place, does not follow the previous hash, or whose hash
    /// does not cover its fields; nil when the chain holds.
    public static func firstInvalidEntry(_ entries: [Entry]) -> Int? {
        var previous = genesis
        for (index, entry) in entries.enumerated() {
            guard entry.index == index, entry.previous == previous,
                entry.hash
                    == hash(previous: previous, index: index, time: entry.time, kind: entry.kind, detail: entry.detail)
            else { return index }
            previous = entry.hash
        }
        return nil
    }

    /// Signs the current head and count.
    public func signHead(with key: Curve25519.Signing.PrivateKey) throws -> SignedHead {
        let signature = try key.signature(for: Self.headMessage(count: entries.count, head: head))
        return SignedHead(count: entries.count, head: head, signature: Hex.encode(signature))
    }

    /// Whether `entries` form a valid chain ending in `signed`'s head, and `signed` is `publicKey`'s.
    public static func verify(_ entries: [Entry], against signed: SignedHead, publicKey: Curve25519.Signing.PublicKey)
        -> Bool
    {
        guard verify(entries), entries.count == signed.count, (entries.last?.hash ?? genesis) == signed.head,
            let signature = Hex.decode(signed.signature)
        else { return false }
        return publicKey.isValidSignature(signature, for: headMessage(count: signed.count, head: signed.head))
    }

    private static func hash(previous: String, index: Int, time: UInt64, kind: String, detail: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(previous.utf8))
        hasher.update(data: bigEndian(UInt64(index)))
        hasher.update(data: bigEndian(time))
        for field in [kind, detail] {
            let bytes = Array(field.utf8)
            hasher.update(data: bigEndian(UInt64(bytes.count)))
            hasher.update(data: bytes)
        }
        return Hex.encode(hasher.finalize())
    }

    private static func headMessage(count: Int, head: String) -> [UInt8] {
        bigEndian(UInt64(count)) + Array(head.utf8)
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
