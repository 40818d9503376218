import Crypto
import Shared

/// A session's evidence as `GET /v1/sessions/{id}/evidence` publishes it: everything an offline verifier
/// (`partyline verify-evidence`, or one written from docs/signalling.md) needs.
public struct PublishedEvidence: Sendable, Hashable, Codable {
    public let entries: [EvidenceLog.Entry]
    /// Present once the session has finished.
    public let signedHead: EvidenceLog.SignedHead?
    /// Hex Ed25519 public key that verifies `signedHead`.
    public let publicKey: String

    public init(entries: [EvidenceLog.Entry], signedHead: EvidenceLog.SignedHead?, publicKey: String) {
        self.entries = entries
        self.signedHead = signedHead
        self.publicKey = publicKey
    }

    /// Why published evidence does not verify.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// Entry `index` is out of place, does not follow the previous entry's hash, or its hash does not
        /// cover its fields.
        case brokenChain(index: Int)
        /// The session has not finished: there is no signed head yet.
        case unsigned
        /// The signed head names another entry count or last hash than the entries.
        case headMismatch
        case invalidPublicKey
        case invalidSignature

        public var description: String {
            switch self {
            case .brokenChain(let index): "entry \(index) breaks the hash chain"
            case .unsigned: "no signed head (the session has not finished)"
            case .headMismatch: "the signed head does not match the entries' count and last hash"
            case .invalidPublicKey: "publicKey is not a hex Ed25519 public key"
            case .invalidSignature: "the head's signature does not verify under publicKey"
            }
        }
    }

    /// Checks the chain, that the signed head covers exactly these entries, and its signature.
    public func verify() throws(Failure) {
        if let index = EvidenceLog.firstInvalidEntry(entries) { throw .brokenChain(index: index) }
        guard let signedHead else { throw .unsigned }
        guard signedHead.count == entries.count, signedHead.head == (entries.last?.hash ?? EvidenceLog.genesis) else {
            throw .headMismatch
        }
        guard let raw = Hex.decode(publicKey), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
        else {
            throw .invalidPublicKey
        }
        guard EvidenceLog.verify(entries, against: signedHead, publicKey: key) else { throw .invalidSignature }
    }
}
