import Crypto
import Foundation
import Shared

/// What the registry vouches for at `issuedAt`: an account's personhood level and the validation behind it.
public struct AttestationStatement: Sendable, Hashable, Codable {
    public let version: Int
    /// The signing key's id (see ``AttestationSigner/keyID``).
    public let issuer: String
    public let account: String
    public let level: PersonhoodLevel
    public let party: String?
    public let validatedAt: Int64?
    /// When the validation expires.
    public let expires: Int64?
    public let issuedAt: Int64
    /// When the statement itself stops counting: a day after issue at most (a level can change, by a
    /// revocation or a declaration, long before the validation expires), and never past `expires`.
    public let validUntil: Int64

    /// How long a statement counts after it is issued.
    public static let lifetime: Int64 = 86_400

    public init(
        issuer: String, account: String, level: PersonhoodLevel, validation: Validation?, issuedAt: Int64
    ) {
        version = 1
        self.issuer = issuer
        self.account = account
        self.level = level
        party = validation?.party
        validatedAt = validation?.validatedAt
        expires = validation?.expires
        self.issuedAt = issuedAt
        validUntil = min(issuedAt + Self.lifetime, validation?.expires ?? .max)
    }
}

/// A signed statement: `statement` is base64url of the statement's JSON (keys sorted), `signature` is
/// base64url of the Ed25519 signature over the ASCII bytes of `statement`.
public struct SignedAttestation: Sendable, Hashable, Codable {
    public let algorithm: String
    public let keyID: String
    public let statement: String
    public let signature: String
}

/// Why an attestation did not verify.
public enum AttestationError: String, Error, Sendable, Hashable {
    case malformed = "malformed-attestation"
    case wrongKey = "unknown-key"
    case badSignature = "bad-signature"
    case expired = "expired-attestation"
}

/// Signs attestations with the registry's Ed25519 key.
public struct AttestationSigner: Sendable {
    public let key: Curve25519.Signing.PrivateKey

    public init(key: Curve25519.Signing.PrivateKey) { self.key = key }

    /// The first 16 hex digits of SHA-256 of the raw public key.
    public var keyID: String { Self.keyID(of: key.publicKey.rawRepresentation) }

    public static func keyID(of publicKey: some DataProtocol) -> String {
        String(Hex.encode(SHA256.hash(data: Data(publicKey))).prefix(16))
    }

    public func sign(_ statement: AttestationStatement) -> SignedAttestation {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // A statement is plain fields; encoding cannot fail.
        let body = Base64URL.encode(try! encoder.encode(statement))
        // Signing with a valid Curve25519 key cannot fail.
        let signature = try! key.signature(for: Data(body.utf8))
        return SignedAttestation(
            algorithm: "Ed25519", keyID: keyID, statement: body, signature: Base64URL.encode(signature))
    }

    /// The statement if `attestation` is signed by `publicKey` (raw Ed25519, 32 bytes) and, at `now` (Unix
    /// seconds), still counts.
    public static func verify(_ attestation: SignedAttestation, publicKey: some DataProtocol, now: Int64)
        throws(AttestationError) -> AttestationStatement
    {
        guard attestation.algorithm == "Ed25519",
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: Data(publicKey))
        else { throw .wrongKey }
        guard attestation.keyID == keyID(of: key.rawRepresentation) else { throw .wrongKey }
        guard let signature = Base64URL.decode(attestation.signature) else { throw .malformed }
        guard key.isValidSignature(signature, for: Data(attestation.statement.utf8)) else { throw .badSignature }
        guard let json = Base64URL.decode(attestation.statement),
            let statement = try? JSONDecoder().decode(AttestationStatement.self, from: json),
            statement.issuer == attestation.keyID
        else { throw .malformed }
        guard now < statement.validUntil else { throw .expired }
        return statement
    }
}
