import Crypto
import Foundation

/// Claims a signed token carries; every token expires.
public protocol ExpiringClaims: Codable, Sendable {
    /// Seconds since the Unix epoch after which the token is refused.
    var expires: Int64 { get }
}

/// Why a signed token was refused; the raw value is the protocol's error code.
public enum TokenError: String, Error, Sendable, Hashable {
    case malformed = "malformed-token"
    case forged = "forged-token"
    case expired = "expired-token"
}

/// Issues and checks tokens `base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part))`. One key
/// signs one kind of claims: give each kind its own key (or `init(secret:purpose:)`).
public struct TokenSigner<Claims: ExpiringClaims>: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// A key derived from configured secret text (any length), so operators can write it in a file;
    /// `purpose` separates the keys of different kinds of token made from one secret.
    public init(secret: String, purpose: String = "") {
        let material = purpose.isEmpty ? Array(secret.utf8) : Array((purpose + "\u{0}" + secret).utf8)
        self.init(key: SymmetricKey(data: SHA256.hash(data: material)))
    }

    public func sign(_ claims: Claims) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Claims are plain fields; encoding them cannot fail.
        let body = Base64URL.encode(try! encoder.encode(claims))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: key)
        return body + "." + Base64URL.encode(Data(mac))
    }

    /// The token's claims if `text` is well formed, signed with this key and not expired at `now`
    /// (seconds since the Unix epoch).
    public func verify(_ text: String, now: Int64) throws(TokenError) -> Claims {
        guard text.utf8.count <= 2048 else { throw .malformed }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Base64URL.decode(parts[1]) else { throw .malformed }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(parts[0].utf8), using: key) else {
            throw .forged
        }
        guard let json = Base64URL.decode(parts[0]), let claims = try? JSONDecoder().decode(Claims.self, from: json)
        else { throw .malformed }
        guard now < claims.expires else { throw .expired }
        return claims
    }
}

/// Base64 with the URL alphabet and no padding (RFC 4648 §5).
public enum Base64URL {
    public static func encode(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: some StringProtocol) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
