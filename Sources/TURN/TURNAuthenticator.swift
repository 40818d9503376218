import STUN

/// The long-term credential check every TURN request but a Binding goes through (RFC 8489 §9.2.4,
/// RFC 8656 §5): static users from configuration and TURN REST usernames, MD5 or SHA-256 keys.
public struct TURNAuthenticator: Sendable {
    public var realm: String
    /// Username → password.
    public var staticUsers: [String: String]
    public var restSecrets: TURNRESTSecrets?
    public var nonces: NonceIssuer

    /// The algorithms offered in PASSWORD-ALGORITHMS, in preference order.
    public static let passwordAlgorithms: [PasswordAlgorithm] = [.sha256, .md5]

    public init(
        realm: String, staticUsers: [String: String] = [:], restSecrets: TURNRESTSecrets? = nil,
        nonces: NonceIssuer = NonceIssuer()
    ) {
        self.realm = realm
        self.staticUsers = staticUsers
        self.restSecrets = restSecrets
        self.nonces = nonces
    }

    /// An authenticated requester: responses to it are signed with ``key``.
    public struct Identity: Hashable, Sendable {
        public var username: String
        public var key: STUNKey
        public var passwordAlgorithm: PasswordAlgorithm
        /// For REST usernames: the subject (`session/turn/pseudonym`) and the expiry.
        public var subject: String?
        public var expires: UInt64?

        /// Whom quotas count against: the subject for REST usernames, the username otherwise.
        public var owner: String { subject ?? username }

        /// Whether the subject lies under `prefix`, path segment by segment: `party-1/` and `party-1` both
        /// cover `party-1/group-2/…`, neither covers `party-10/…`.
        public func isSubject(under prefix: String) -> Bool {
            guard let subject, subject.hasPrefix(prefix) else { return false }
            if prefix.hasSuffix("/") || subject.count == prefix.count { return true }
            return subject.dropFirst(prefix.count).first == "/"
        }
    }

    public enum Decision: Hashable, Sendable {
        case authenticated(Identity)
        /// Answer with this error code and these attributes (REALM, a fresh NONCE, PASSWORD-ALGORITHMS).
        case challenge(STUNErrorCode, [STUNAttribute], Refusal)
        /// A malformed authentication attempt: 400 (RFC 8489 §9.2.4).
        case badRequest
    }

    /// Why a request was not authenticated, as metrics count it.
    public enum Refusal: String, Hashable, Sendable, CaseIterable {
        /// No MESSAGE-INTEGRITY: the first request of every client, answered with the challenge.
        case challenge = "challenge"
        case unknownUser = "unknown-user"
        /// A REST username whose expiry has passed.
        case expiredCredential = "expired-credential"
        case wrongPassword = "wrong-password"
        case staleNonce = "stale-nonce"
        /// 400: a realm, nonce, username or password algorithm missing or not as offered.
        case malformed = "malformed"
        /// A REST credential whose subject was revoked (the stream stop).
        case revoked = "revoked"
        /// 441: another username than the allocation's on its 5-tuple.
        case wrongCredentials = "wrong-credentials"
    }

    /// Decides `message` (validated as `view`) from `client` at `now` (Unix seconds).
    public func authenticate(
        _ view: STUNMessageView, _ message: STUNMessage, client: TransportAddress, now: UInt64
    ) -> Decision {
        let challengeAttributes = challengeAttributes(for: client, now: now)
        guard view.messageIntegrityOffset != nil || view.messageIntegritySHA256Offset != nil else {
            return .challenge(.unauthorized, challengeAttributes, .challenge)
        }
        guard let nonce = message.nonce, message.realm != nil else { return .badRequest }
        guard let username = username(of: message) else {
            return message.attribute(.userhash) != nil
                ? .challenge(.unauthorized, challengeAttributes, .unknownUser) : .badRequest
        }
        guard let algorithm = passwordAlgorithm(of: message) else { return .badRequest }
        var subject: String?
        var expires: UInt64?
        let passwords: [String]
        if let password = staticUsers[username] {
            passwords = [password]
        } else if let restSecrets {
            switch restSecrets.verdict(username: username, now: now) {
            case .current(let until, let restSubject, let candidates):
                (subject, expires, passwords) = (restSubject, until, candidates)
            case .expired:
                return .challenge(.unauthorized, challengeAttributes, .expiredCredential)
            case .malformed:
                return .challenge(.unauthorized, challengeAttributes, .unknownUser)
            }
        } else {
            return .challenge(.unauthorized, challengeAttributes, .unknownUser)
        }
        for password in passwords {
            guard
                let key = try? STUNKey.longTerm(
                    username: username, realm: realm, password: password, algorithm: algorithm)
            else { continue }
            if case .valid = view.checkIntegrity(key: key) {
                // RFC 8489 §9.2.4: the nonce is judged last, once the credentials are known to be right.
                guard nonces.check(nonce, client: client, now: now) == .fresh else {
                    return .challenge(.staleNonce, challengeAttributes, .staleNonce)
                }
                return .authenticated(
                    Identity(
                        username: username, key: key, passwordAlgorithm: algorithm, subject: subject, expires: expires))
            }
        }
        return .challenge(.unauthorized, challengeAttributes, .wrongPassword)
    }

    /// REALM, a fresh NONCE and PASSWORD-ALGORITHMS: what every 401 and 438 carries.
    public func challengeAttributes(for client: TransportAddress, now: UInt64) -> [STUNAttribute] {
        [.realm(realm), .nonce(nonces.nonce(for: client, now: now)), .passwordAlgorithms(Self.passwordAlgorithms)]
    }

    /// USERNAME, or the static user whose USERHASH matches (RFC 8489 §14.4).
    private func username(of message: STUNMessage) -> String? {
        if let username = message.username { return username }
        guard case .userhash(let hash) = message.attribute(.userhash) else { return nil }
        return staticUsers.keys.first { (try? STUNKey.userhash(username: $0, realm: realm)) == hash }
    }

    /// RFC 8489 §9.2.4: both PASSWORD-ALGORITHMS (as offered) and PASSWORD-ALGORITHM (one of them), or
    /// neither (MD5, for RFC 5389 clients); anything else is a bad request.
    private func passwordAlgorithm(of message: STUNMessage) -> PasswordAlgorithm? {
        switch (message.attribute(.passwordAlgorithms), message.attribute(.passwordAlgorithm)) {
        case (nil, nil):
            return .md5
        case (.passwordAlgorithms(let offered)?, .passwordAlgorithm(let chosen)?):
            guard offered == Self.passwordAlgorithms, offered.contains(chosen) else { return nil }
            return chosen
        default:
            return nil
        }
    }
}
