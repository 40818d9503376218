import Coordinator
import HTTPHost
import HTTPTypes
import Shared
import Signalling

/// An account's public key as clients send it: the algorithm and the base64url key bytes.
struct PublicKeyBody: Codable, Sendable {
    let algorithm: String
    let publicKey: String

    func parsed() throws(APIError) -> AccountKey {
        guard let algorithm = KeyAlgorithm(rawValue: algorithm) else {
            throw APIError(.badRequest, "invalid-key", "algorithm must be ES256 or Ed25519")
        }
        guard let bytes = Base64URL.decode(publicKey), let key = try? AccountKey(algorithm: algorithm, publicKey: bytes)
        else { throw APIError(.badRequest, "invalid-key", "publicKey is not a \(algorithm.rawValue) public key") }
        return key
    }
}

/// `POST /v1/auth/challenge`.
struct ChallengeRequest: Decodable, Sendable {
    let key: PublicKeyBody

    init(from decoder: any Decoder) throws { key = try PublicKeyBody(from: decoder) }
}

struct ChallengeResponse: Encodable, Sendable {
    let account: String
    let challenge: String
    /// Exactly the text to sign (UTF-8).
    let signedText: String
    let expires: Int64
}

/// `POST /v1/auth/session`.
struct LoginRequest: Decodable, Sendable {
    let key: PublicKeyBody
    let challenge: String
    /// base64url signature over `signedText` (P-256: raw r‖s or DER).
    let signature: String

    enum CodingKeys: String, CodingKey { case challenge, signature }

    init(from decoder: any Decoder) throws {
        key = try PublicKeyBody(from: decoder)
        let values = try decoder.container(keyedBy: CodingKeys.self)
        challenge = try values.decode(String.self, forKey: .challenge)
        signature = try values.decode(String.self, forKey: .signature)
    }
}

struct LoginResponse: Encodable, Sendable {
    let account: String
    let token: String
    let expires: Int64
}

/// A party as the API shows it: the seed is included once the party has started.
struct PartyResponse: Encodable, Sendable {
    let id: String
    let name: String
    let timeZone: String
    let registrationOpensAt: Int64
    let registrationClosesAt: Int64
    let startsAt: Int64
    let duration: Int64
    let groupSize: Int
    let minimumDistance: Double
    let deposit: Int64
    let slashPermille: Int
    let seedCommitment: String
    let seed: String?
    let registrations: Int

    init(_ book: CoordinatorState.PartyBook, now: Int64) {
        let party = book.party
        id = party.id
        name = party.name
        timeZone = party.timeZone
        registrationOpensAt = party.registrationOpensAt
        registrationClosesAt = party.registrationClosesAt
        startsAt = party.startsAt
        duration = party.duration
        groupSize = party.groupSize
        minimumDistance = party.minimumDistance
        deposit = party.deposit
        slashPermille = party.slashPermille
        seedCommitment = party.seedCommitment
        seed = book.revealedSeed(now: now).map(Hex.encode)
        registrations = book.registrations.count
    }
}

struct RegistrantsResponse: Encodable, Sendable {
    let party: String
    let accounts: [String]
}

/// `POST /v1/parties/{id}/registrations`.
struct RegistrationRequest: Decodable, Sendable {
    let latitude: Double
    let longitude: Double
    let description: String?
}

struct RegistrationResponse: Encodable, Sendable {
    let party: String
    let account: String
    let registeredAt: Int64
}

struct DeregistrationResponse: Encodable, Sendable {
    let party: String
    let account: String
    /// The deposit returned to the account's free funds.
    let released: Int64
}

struct AccountResponse: Encodable, Sendable {
    let account: String
    /// Funds free to lock or withdraw.
    let free: Int64
    /// Funds locked in registrations.
    let locked: Int64
    /// Parties the account is registered for.
    let registrations: [String]
}

/// `POST /v1/admin/credits`: funds that arrived for an account outside the system.
struct CreditRequest: Decodable, Sendable {
    let account: String
    let amount: Int64
}

/// `POST /v1/accounts/me/withdrawals`.
struct WithdrawalRequest: Decodable, Sendable {
    let amount: Int64
}

extension APIError {
    static let accountRequired = APIError(.unauthorized, "unauthorized", "an account session token is required")
    static let partyNotFound = APIError(.notFound, "party-not-found", "no such party")
    static let accountNotFound = APIError(.notFound, "account-not-found", "no such account")

    init(registration error: RegistrationError) {
        let status: HTTPResponse.Status
        let message: String
        switch error {
        case .unknownParty: (status, message) = (.notFound, "no such party")
        case .unknownAccount: (status, message) = (.notFound, "the account has never logged in")
        case .registrationClosed: (status, message) = (.conflict, "the party's registration window is closed")
        case .alreadyRegistered: (status, message) = (.conflict, "the account is already registered for this party")
        case .notRegistered: (status, message) = (.notFound, "the account is not registered for this party")
        case .invalidLocation:
            (status, message) = (.badRequest, "latitude must be within ±90 and longitude within ±180")
        case .invalidDescription: (status, message) = (.badRequest, "description must be at most 280 characters")
        case .locationTaken:
            (status, message) = (.conflict, "another registration is closer than the party's minimum distance")
        case .insufficientDeposit(let required, let available):
            (status, message) = (
                HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"),
                "the deposit is \(required); free funds are \(available)"
            )
        }
        self.init(status, error.code, message)
    }

    init(refusal: DepositBook.Refusal) {
        switch refusal {
        case .invalidAmount: self.init(.badRequest, "invalid-amount", "amount must be positive")
        case .insufficientFunds(let available):
            self.init(
                HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"), "insufficient-funds",
                "free funds are \(available)")
        case .notLocked, .invalidFraction: self.init(.conflict, "ledger-refused", "the ledger refused the operation")
        }
    }
}

/// `GET /v1/registry/{account}`: the account's level and what it rests on.
struct RegistryEntryResponse: Encodable, Sendable {
    let account: String
    let level: Int
    let levelName: String
    let party: String?
    let validatedAt: Int64?
    let expires: Int64?
    /// The controller, for a managed account.
    let controller: String?
    /// The accounts it manages, for a controller.
    let manages: [String]

    init(account: String, state: CoordinatorState, now: Int64) {
        self.account = account
        let level = state.level(of: account, now: now)
        self.level = level.rawValue
        levelName = level.name
        let validation = state.registry.validations[account].flatMap { $0.isCurrent(at: now) ? $0 : nil }
        party = validation?.party
        validatedAt = validation?.validatedAt
        expires = validation?.expires
        controller = state.registry.links[account]?.controller
        manages = (state.registry.managedBy[account] ?? []).sorted()
    }
}

struct RegistryBatchRequest: Decodable, Sendable {
    let accounts: [String]
}

/// `POST /v1/registry/declarations`: the controller declares `managed`, which consents by signing
/// `partyline-manage-v1:<controller>:<managed>:<consentedAt>` with its key.
struct DeclarationRequest: Decodable, Sendable {
    let managed: String
    let consentedAt: Int64
    let consent: String
}

struct ChallengeFilingRequest: Decodable, Sendable {
    let account: String
    let reason: String
}

struct ChallengeResolutionRequest: Decodable, Sendable {
    let upheld: Bool
    let resolution: String?
}

struct ValidatedResponse: Encodable, Sendable {
    let party: String
    let accounts: [String]
}

struct AttestationKeyResponse: Encodable, Sendable {
    let algorithm: String
    let keyID: String
    let publicKey: String
}

struct MembershipResponse: Encodable, Sendable {
    let party: String
    let group: Int
    let session: String?
    let token: String?
    let signallingURL: String?
    let outcome: RegistrantOutcome?
    /// Too few were present in the caller's group: a new group is being formed.
    let waitingForGroup: Bool
}

/// `GET /v1/admin/parties/{id}/votes`: every committed vote of the party's sessions.
struct VotesResponse: Encodable, Sendable {
    let party: String
    let votes: [CastVote]
}

struct TurnLocationResponse: Encodable, Sendable {
    let turn: Int
    let pseudonym: String
    let latitude: Double
    let longitude: Double
    let description: String?
}

extension APIError {
    init(registry error: RegistryError) {
        let status: HTTPResponse.Status =
            switch error {
            case .unknownAccount, .noSuchDeclaration, .noSuchChallenge: .notFound
            case .invalidConsent, .staleConsent, .invalidReason, .sameAccount: .badRequest
            case .notAParty: .forbidden
            default: .conflict
            }
        self.init(status, error.rawValue, "the registry refused: \(error.rawValue)")
    }
}

struct LedgerCheckResponse: Encodable, Sendable {
    let entries: Int
    let balanced: Bool
}
