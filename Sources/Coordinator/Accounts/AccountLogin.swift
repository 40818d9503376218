import Foundation
import Shared

/// A login challenge: a random nonce bound to one account key, signed by the server so it keeps no
/// state for challenges it hands out.
public struct LoginChallenge: ExpiringClaims, Hashable {
    public let account: String
    public let nonce: String
    public let expires: Int64
}

/// What an account session token vouches for: the holder proved possession of `account`'s key.
public struct AccountSession: ExpiringClaims, Hashable {
    public let account: String
    public let expires: Int64
}

/// Why a login was refused; the raw value is the API's error code.
public enum LoginError: String, Error, Sendable, Hashable {
    case invalidKey = "invalid-key"
    case invalidChallenge = "invalid-challenge"
    case expiredChallenge = "expired-challenge"
    case wrongAccount = "challenge-for-another-key"
    case invalidSignature = "invalid-signature"
    case replayedChallenge = "replayed-challenge"
}

/// Challenge–response login with account keys: no passwords. The client signs
/// `"partyline-login-v1:" + challenge` (UTF-8) with its key; each challenge is accepted once.
public struct AccountLogin: Sendable {
    /// How long a challenge may be answered.
    public let challengeLifetime: Int64
    /// How long a session token lasts.
    public let sessionLifetime: Int64
    private let challenges: TokenSigner<LoginChallenge>
    public let sessions: TokenSigner<AccountSession>
    /// Nonces answered and not yet expired, so a captured answer cannot be replayed.
    private var spent: [String: Int64] = [:]
    private var nextPrune: Int64 = 0

    public init(secret: String, challengeLifetime: Int64 = 120, sessionLifetime: Int64 = 3600) {
        challenges = TokenSigner(secret: secret, purpose: "partyline-login-challenge")
        sessions = TokenSigner(secret: secret, purpose: "partyline-account-session")
        self.challengeLifetime = challengeLifetime
        self.sessionLifetime = sessionLifetime
    }

    /// The text a client signs to answer `challenge`.
    public static func signedText(_ challenge: String) -> Data { Data(("partyline-login-v1:" + challenge).utf8) }

    /// A fresh challenge for `key`; `nonce` is 16 random bytes from the caller's secure generator.
    public func challenge(for key: AccountKey, nonce: [UInt8], now: Int64) -> String {
        challenges.sign(
            LoginChallenge(account: key.accountID, nonce: Base64URL.encode(nonce), expires: now + challengeLifetime))
    }

    /// Checks an answer and spends its challenge; the session token and its claims.
    public mutating func answer(challenge: String, key: AccountKey, signature: Data, now: Int64) throws(LoginError)
        -> (token: String, session: AccountSession)
    {
        let claims: LoginChallenge
        do {
            claims = try challenges.verify(challenge, now: now)
        } catch .expired {
            throw .expiredChallenge
        } catch {
            throw .invalidChallenge
        }
        guard claims.account == key.accountID else { throw .wrongAccount }
        guard key.isValidSignature(signature, for: Self.signedText(challenge)) else { throw .invalidSignature }
        if now >= nextPrune {
            spent = spent.filter { $0.value > now }
            nextPrune = now + challengeLifetime
        }
        guard spent.updateValue(claims.expires, forKey: claims.nonce) == nil else { throw .replayedChallenge }
        let session = AccountSession(account: claims.account, expires: now + sessionLifetime)
        return (sessions.sign(session), session)
    }
}
