import Crypto
import Foundation

/// What a join token vouches for: one member of one session, under one pseudonym, until `expires`.
public struct JoinToken: Sendable, Hashable, Codable {
    public let session: String
    public let member: String
    public let pseudonym: String
    /// Seconds since the Unix epoch after which the token is refused.
    public let expires: Int64

    public init(session: String, member: String, pseudonym: String, expires: Int64) {
        self.session = session
        self.member = member
        self.pseudonym = pseudonym
        self.expires = expires
    }
}

/// Why a join token was refused; the raw value is the protocol's error code.
public enum JoinTokenError: String, Error, Sendable, Hashable {
    case malformed = "malformed-token"
    case forged = "forged-token"
    case expired = "expired-token"
}

/// Issues and checks join tokens: `base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part))`.
/// The key is the server's; a coordinator gets tokens from the session-setup API and hands them on.
public struct JoinTokenSigner: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// A key derived from configured secret text (any length), so operators can write it in a file.
    public init(secret: String) {
        self.init(key: SymmetricKey(data: SHA256.hash(data: Array(secret.utf8))))
    }

    public func sign(_ token: JoinToken) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding four plain fields cannot fail.
        let claims = Base64URL.encode(try! encoder.encode(token))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(claims.utf8), using: key)
        return claims + "." + Base64URL.encode(Data(mac))
    }

    /// The token's claims if `text` is well formed, signed with this key and not expired at `now`
    /// (seconds since the Unix epoch).
    public func verify(_ text: String, now: Int64) throws(JoinTokenError) -> JoinToken {
        guard text.utf8.count <= 2048 else { throw .malformed }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Base64URL.decode(parts[1]) else { throw .malformed }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(parts[0].utf8), using: key) else {
            throw .forged
        }
        guard let json = Base64URL.decode(parts[0]), let token = try? JSONDecoder().decode(JoinToken.self, from: json)
        else { throw .malformed }
        guard now < token.expires else { throw .expired }
        return token
    }
}

/// Base64 with the URL alphabet and no padding (RFC 4648 §5).
enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: some StringProtocol) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
