import ConnectionLimits
import Coordinator
import Crypto
import Foundation
import HTTPHost
import HTTPTypes
import Hummingbird
import NIOCore
import Shared
import Signalling
import Synchronization
import TURN

/// What the coordinator's HTTP routes call: login, parties, registration and funds over the
/// ``LiveCoordinator``, with the API's errors.
public final class CoordinatorAPI: Sendable {
    public let coordinator: LiveCoordinator
    let configuration: CoordinatorConfiguration
    private let login: Mutex<AccountLogin>
    private let sessions: TokenSigner<AccountSession>
    private let adminKeys: BearerKeys
    /// Login calls per client address (an account is a key anyone can make: logins are cheap to send); nil
    /// when the limit is off.
    private let loginLimiter: RequestRateLimiter<ConnectionSource>?
    let attestations: AttestationSigner
    /// Where the party's sessions run (for a member's signalling URL and the turn's location).
    let sessionHost: (any SessionHost)?
    /// Seconds since the Unix epoch (injected by tests).
    let now: @Sendable () -> Int64

    public init(
        coordinator: LiveCoordinator, configuration: CoordinatorConfiguration,
        attestationKey: Curve25519.Signing.PrivateKey,
        sessionHost: (any SessionHost)? = nil,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        attestations = AttestationSigner(key: attestationKey)
        self.sessionHost = sessionHost
        self.coordinator = coordinator
        self.configuration = configuration
        let secret = configuration.loginSecret ?? Base64URL.encode(SecureRandom.bytes(32))
        let login = AccountLogin(
            secret: secret, challengeLifetime: configuration.challengeLifetime,
            sessionLifetime: configuration.sessionLifetime)
        sessions = login.sessions
        self.login = Mutex(login)
        adminKeys = BearerKeys(configuration.adminKeys)
        loginLimiter =
            configuration.loginsPerSecond > 0
            ? RequestRateLimiter(rate: configuration.loginsPerSecond, burst: Double(max(1, configuration.loginBurst)))
            : nil
        self.now = now
    }

    /// Refuses a login call from an address over its rate (429 `rate-limited`).
    func limitLogin(from address: SocketAddress?) throws(APIError) {
        // Unix-socket clients (no source address) are not limited.
        guard let loginLimiter, let source = address.flatMap(ConnectionSource.init) else { return }
        guard loginLimiter.allow(source, now: .now) else {
            throw APIError(.tooManyRequests, "rate-limited", "too many login calls from this address; retry later")
        }
    }

    // MARK: Login

    func challenge(_ request: ChallengeRequest) throws(APIError) -> ChallengeResponse {
        let key = try request.key.parsed()
        let now = now()
        let challenge = login.withLock { $0.challenge(for: key, nonce: SecureRandom.bytes(16), now: now) }
        return ChallengeResponse(
            account: key.accountID, challenge: challenge,
            signedText: String(decoding: AccountLogin.signedText(challenge), as: UTF8.self),
            expires: now + configuration.challengeLifetime)
    }

    func answer(_ request: LoginRequest) async throws -> LoginResponse {
        let key = try request.key.parsed()
        guard let signature = Base64URL.decode(request.signature) else {
            throw APIError(.badRequest, "invalid-signature", "the signature is not base64url")
        }
        let now = now()
        let answer: (token: String, session: AccountSession)
        do {
            answer = try login.withLock { login throws(LoginError) in
                try login.answer(challenge: request.challenge, key: key, signature: signature, now: now)
            }
        } catch {
            throw APIError(.unauthorized, error.rawValue, "the challenge was not answered")
        }
        try await coordinator.perform { state in (state.recordAccount(key, now: now), ()) }
        return LoginResponse(account: answer.session.account, token: answer.token, expires: answer.session.expires)
    }

    // MARK: Authorization

    /// The account whose session token the request carries.
    func account(of request: Request) throws(APIError) -> String {
        guard let token = BearerKeys.presented(in: request) else { throw .accountRequired }
        do {
            return try sessions.verify(String(token), now: now()).account
        } catch {
            throw APIError(.unauthorized, error.rawValue, "the account session token was refused")
        }
    }

    func requireAdmin(_ request: Request) throws(APIError) {
        try adminKeys.authorize(request)
    }

    // MARK: Parties

    func createParty(_ draft: PartyDraft) async throws -> PartyResponse {
        let valid: PartyDraft
        do {
            valid = try draft.validated()
        } catch {
            throw APIError(.badRequest, "invalid-party", "\(error.field) must be \(error.expected)")
        }
        let id = Hex.encode(SecureRandom.bytes(8))
        let seed = SecureRandom.bytes(32)
        let now = now()
        return try await coordinator.perform { state in
            let changes = state.createParty(id: id, draft: valid, seed: seed, now: now)
            return (changes, PartyResponse(state.parties[id]!, now: now))
        }
    }

    func parties() -> [PartyResponse] {
        let now = now()
        return coordinator.read { state in
            state.parties.values.map { PartyResponse($0, now: now) }.sorted {
                ($0.startsAt, $0.id) < ($1.startsAt, $1.id)
            }
        }
    }

    func party(_ id: String) throws(APIError) -> PartyResponse {
        let now = now()
        guard let party = coordinator.read({ $0.parties[id].map { PartyResponse($0, now: now) } }) else {
            throw .partyNotFound
        }
        return party
    }

    /// The registered accounts, sorted as the assignment sorts them (locations are never listed).
    func registrants(_ id: String) throws(APIError) -> RegistrantsResponse {
        guard let accounts = coordinator.read({ $0.parties[id].map { Array($0.registrations.keys) } }) else {
            throw .partyNotFound
        }
        return RegistrantsResponse(party: id, accounts: Assignment.sortedByBytes(accounts))
    }

    // MARK: Registration

    func register(_ request: RegistrationRequest, account: String, party: String) async throws -> RegistrationResponse {
        let now = now()
        do {
            return try await coordinator.perform { state in
                let changes = try state.register(
                    account: account, party: party, latitude: request.latitude, longitude: request.longitude,
                    description: request.description, now: now)
                return (changes, RegistrationResponse(party: party, account: account, registeredAt: now))
            }
        } catch let error as RegistrationError {
            throw APIError(registration: error)
        }
    }

    func deregister(account: String, party: String) async throws -> DeregistrationResponse {
        let now = now()
        do {
            return try await coordinator.perform { state in
                let locked = state.ledger.balance(.locked(holder: account, party: party))
                let changes = try state.deregister(account: account, party: party, now: now)
                return (changes, DeregistrationResponse(party: party, account: account, released: locked))
            }
        } catch let error as RegistrationError {
            throw APIError(registration: error)
        }
    }

    // MARK: Funds

    func accountView(_ account: String) -> AccountResponse {
        coordinator.read { state in
            let registrations = state.parties.values.filter { $0.registrations[account] != nil }.map(\.party.id)
                .sorted()
            let locked = registrations.reduce(Int64(0)) {
                $0 + state.ledger.balance(.locked(holder: account, party: $1))
            }
            return AccountResponse(
                account: account, free: state.ledger.balance(.wallet(account)), locked: locked,
                registrations: registrations)
        }
    }

    /// Every committed vote of `party`'s sessions (for admins: the group never learns who voted what).
    func votes(party: String) async throws -> VotesResponse {
        guard coordinator.read({ $0.parties[party] != nil }) else { throw APIError.partyNotFound }
        return VotesResponse(party: party, votes: try await coordinator.votes(party: party))
    }

    /// Whether the books balance, with their size: the crash test's check after a restart.

    func ledgerCheck() -> LedgerCheckResponse {
        coordinator.read { LedgerCheckResponse(entries: $0.ledger.entries.count, balanced: $0.ledger.isBalanced()) }
    }

    func credit(_ request: CreditRequest) async throws -> AccountResponse {
        do {
            try await coordinator.perform { state in
                guard state.accounts[request.account] != nil else { throw APIError.accountNotFound }
                return (try state.credit(request.amount, to: request.account), ())
            }
        } catch let refusal as DepositBook.Refusal {
            throw APIError(refusal: refusal)
        }
        return accountView(request.account)
    }

    func withdraw(_ request: WithdrawalRequest, account: String) async throws -> AccountResponse {
        do {
            try await coordinator.perform { state in (try state.withdraw(request.amount, from: account), ()) }
        } catch let refusal as DepositBook.Refusal {
            throw APIError(refusal: refusal)
        }
        return accountView(account)
    }
}

/// Random bytes from the system's secure generator (getrandom on Linux).
enum SecureRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
