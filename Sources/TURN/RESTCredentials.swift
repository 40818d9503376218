import Crypto
import Foundation
import Shared

/// A time-limited TURN credential in the "TURN REST API" form coturn's `use-auth-secret` accepts:
/// username `<unix-expiry>:<subject>`, password `base64(HMAC-SHA1(secret, username))`.
public struct TURNRESTCredential: Hashable, Sendable, Codable {
    public var username: String
    public var password: String
    /// Unix time (seconds) after which the relay refuses the username.
    public var expires: UInt64
    /// What the credential is scoped to, e.g. `session/turn/pseudonym`.
    public var subject: String
}

/// The shared secrets a relay and its credential issuer hold. The first one mints; every one verifies, so a
/// secret can be rotated by adding the new one first and removing the old one after the longest TTL.
public struct TURNRESTSecrets: Sendable {
    public let secrets: [SymmetricKey]

    /// Nil when `secrets` is empty or holds an empty secret.
    public init?(_ secrets: [String]) {
        guard !secrets.isEmpty, secrets.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.secrets = secrets.map { SymmetricKey(data: Array($0.utf8)) }
    }

    /// A credential for `subject` valid for `ttl` seconds from `now` (Unix seconds).
    public func mint(subject: String, ttl: UInt64, now: UInt64) -> TURNRESTCredential {
        let expires = now + ttl
        let username = "\(expires):\(subject)"
        return TURNRESTCredential(
            username: username, password: Self.password(for: username, secret: secrets[0]), expires: expires,
            subject: subject)
    }

    /// `base64(HMAC-SHA1(secret, username))`.
    public static func password(for username: String, secret: SymmetricKey) -> String {
        Data(HMAC<Insecure.SHA1>.authenticationCode(for: Array(username.utf8), using: secret)).base64EncodedString()
    }

    /// What a relay can say about a REST username it receives.
    public enum Verdict: Hashable, Sendable {
        /// Not yet expired: these are the passwords it may have been minted with, one per secret.
        case current(expires: UInt64, subject: String, candidatePasswords: [String])
        /// The expiry has passed: answer 401 (RFC 8656 §9.2.2 with a REST username).
        case expired(expires: UInt64)
        /// Not `<unix-expiry>:<subject>`.
        case malformed
    }

    /// Parses `username` and, when it is current at `now`, derives the password under each secret.
    public func verdict(username: String, now: UInt64) -> Verdict {
        guard let colon = username.firstIndex(of: ":"), let expires = UInt64(username[..<colon]) else {
            return .malformed
        }
        guard expires >= now else { return .expired(expires: expires) }
        return .current(
            expires: expires, subject: String(username[username.index(after: colon)...]),
            candidatePasswords: secrets.map { Self.password(for: username, secret: $0) })
    }
}

extension ICEServer {
    /// An entry carrying a TURN REST credential (none for STUN-only URLs).
    public init(urls: [String], credential: TURNRESTCredential?) {
        self.init(urls: urls, username: credential?.username, credential: credential?.password)
    }
}
