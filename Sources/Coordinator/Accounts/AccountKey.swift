import Crypto
import Foundation

/// A signature algorithm an account key may use.
public enum KeyAlgorithm: String, Sendable, Hashable, Codable {
    /// ECDSA over P-256 with SHA-256, as WebCrypto's `ECDSA` / `P-256` / `SHA-256`.
    case p256 = "ES256"
    /// Ed25519 (RFC 8032).
    case ed25519 = "Ed25519"
}

/// Why a public key or a signature was refused.
public enum AccountKeyError: String, Error, Sendable, Hashable {
    case invalidKey = "invalid-key"
    case invalidSignature = "invalid-signature"
}

/// An account is its public key; its id is derived from the key, so nobody picks another's id.
public struct AccountKey: Sendable, Hashable {
    public let algorithm: KeyAlgorithm
    /// The canonical encoding: P-256 as the uncompressed X9.63 point (WebCrypto's `raw` export, 65 bytes),
    /// Ed25519 as its 32 raw bytes.
    public let publicKey: Data

    /// Parses `publicKey` (P-256 also compressed, 33 bytes) and keeps its canonical encoding.
    public init(algorithm: KeyAlgorithm, publicKey: some DataProtocol) throws(AccountKeyError) {
        self.algorithm = algorithm
        switch algorithm {
        case .p256:
            let bytes = Data(publicKey)
            let key: P256.Signing.PublicKey
            if bytes.count == 33, let compressed = try? P256.Signing.PublicKey(compressedRepresentation: bytes) {
                key = compressed
            } else if bytes.count == 65, let uncompressed = try? P256.Signing.PublicKey(x963Representation: bytes) {
                key = uncompressed
            } else {
                throw .invalidKey
            }
            self.publicKey = key.x963Representation
        case .ed25519:
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: Data(publicKey)) else {
                throw .invalidKey
            }
            self.publicKey = key.rawRepresentation
        }
    }

    /// The account id: lowercase hex of the first 20 bytes of SHA-256(algorithm ‖ 0x00 ‖ key).
    public var accountID: String {
        var hasher = SHA256()
        hasher.update(data: Array(algorithm.rawValue.utf8) + [0])
        hasher.update(data: publicKey)
        return hasher.finalize().prefix(20).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `signature` signs `message` under this key. P-256 signatures may be raw `r‖s` (64 bytes,
    /// WebCrypto's format) or DER.
    public func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol) -> Bool {
        let signature = Data(signature)
        switch algorithm {
        case .p256:
            guard let key = try? P256.Signing.PublicKey(x963Representation: publicKey) else { return false }
            let parsed =
                signature.count == 64
                ? try? P256.Signing.ECDSASignature(rawRepresentation: signature)
                : try? P256.Signing.ECDSASignature(derRepresentation: signature)
            guard let parsed else { return false }
            return key.isValidSignature(parsed, for: Data(message))
        case .ed25519:
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
            return key.isValidSignature(signature, for: Data(message))
        }
    }
}
