import Shared

/// What a join token vouches for: one member of one session, under one pseudonym, until `expires`.
public struct JoinToken: ExpiringClaims, Hashable {
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

/// Issues and checks join tokens. The key is the server's; a coordinator gets tokens from the
/// session-setup API and hands them on.
public typealias JoinTokenSigner = TokenSigner<JoinToken>

/// Why a join token was refused.
public typealias JoinTokenError = TokenError
