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
            let bytes = Data(publicKey)
            guard Self.isAcceptableEd25519(bytes),
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
            else { throw .invalidKey }
            self.publicKey = key.rawRepresentation
        }
    }

    /// Refuses the Ed25519 encodings no honest key has: the points of small order (a signature by "anyone"
    /// verifies under them), with either sign bit, and non-canonical encodings (y ≥ 2^255 − 19). The list
    /// of small-order y-coordinates is libsodium's (`ge25519_has_small_order`).
    static func isAcceptableEd25519(_ bytes: Data) -> Bool {
        guard bytes.count == 32 else { return false }
        let key = Array(bytes)
        var y = key
        y[31] &= 0x7F
        // y ≥ p: the top 31 bytes all at their maximum (0x7F then 0xFF…) and the lowest at least 0xED.
        if y[31] == 0x7F && y[1...30].allSatisfy({ $0 == 0xFF }) && y[0] >= 0xED { return false }
        return !smallOrderEd25519.contains(y)
    }

    /// Small-order Ed25519 points' y-coordinates, little-endian, sign bit cleared: 0, 1, the two of order 8,
    /// p − 1, and p and p + 1 (non-canonical 0 and 1, caught above as well).
    static let smallOrderEd25519: Set<[UInt8]> = [
        [UInt8](repeating: 0, count: 32),
        [1] + [UInt8](repeating: 0, count: 31),
        [
            0x26, 0xE8, 0x95, 0x8F, 0xC2, 0xB2, 0x27, 0xB0, 0x45, 0xC3, 0xF4, 0x89, 0xF2, 0xEF, 0x98, 0xF0,
            0xD5, 0xDF, 0xAC, 0x05, 0xD3, 0xC6, 0x33, 0x39, 0xB1, 0x38, 0x02, 0x88, 0x6D, 0x53, 0xFC, 0x05,
        ],
        [
            0xC7, 0x17, 0x6A, 0x70, 0x3D, 0x4D, 0xD8, 0x4F, 0xBA, 0x3C, 0x0B, 0x76, 0x0D, 0x10, 0x67, 0x0F,
            0x2A, 0x20, 0x53, 0xFA, 0x2C, 0x39, 0xCC, 0xC6, 0x4E, 0xC7, 0xFD, 0x77, 0x92, 0xAC, 0x03, 0x7A,
        ],
        [0xEC] + [UInt8](repeating: 0xFF, count: 30) + [0x7F],
    ]

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
