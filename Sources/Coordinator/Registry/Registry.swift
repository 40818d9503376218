/// A personhood level as other applications read it.
public enum PersonhoodLevel: Int, Sendable, Hashable, Codable {
    /// No current validation.
    case unregistered = 0
    /// Validated, and controlled by no other account.
    case independent = 1
    /// Validated, and declared as controlled by another validated account.
    case managed = 2

    public var name: String {
        switch self {
        case .unregistered: "unregistered"
        case .independent: "independent"
        case .managed: "managed"
        }
    }
}

/// An account's validation at a party.
public struct Validation: Sendable, Hashable, Codable {
    public let account: String
    public let party: String
    public let validatedAt: Int64
    public let expires: Int64
    /// Set when an upheld challenge revoked it.
    public var revokedAt: Int64?

    public init(account: String, party: String, validatedAt: Int64, expires: Int64, revokedAt: Int64? = nil) {
        self.account = account
        self.party = party
        self.validatedAt = validatedAt
        self.expires = expires
        self.revokedAt = revokedAt
    }

    public func isCurrent(at now: Int64) -> Bool { revokedAt == nil && now < expires }
}

/// A declaration that `controller` controls `managed`, co-signed by both.
public struct ManagedLink: Sendable, Hashable, Codable {
    public let controller: String
    public let managed: String
    public let declaredAt: Int64

    public init(controller: String, managed: String, declaredAt: Int64) {
        self.controller = controller
        self.managed = managed
        self.declaredAt = declaredAt
    }

    /// The text the managed account signs to consent at `consentedAt` (Unix seconds):
    /// `partyline-manage-v1:<controller>:<managed>:<consentedAt>` (UTF-8). A consent is accepted within five
    /// minutes of its time and only if it is newer than the pair's last declaration or withdrawal, so a
    /// withdrawn declaration cannot be revived with the old signature.
    public static func consentText(controller: String, managed: String, consentedAt: Int64) -> [UInt8] {
        Array("partyline-manage-v1:\(controller):\(managed):\(consentedAt)".utf8)
    }

    /// How far a consent's time may lie from the server's clock: five minutes back, one minute ahead.
    public static let consentWindow: ClosedRange<Int64> = -300...60
}

/// A challenge filed against an account suspected of undeclared management.
public struct RegistryChallenge: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable { case open, upheld, dismissed }

    public let id: String
    public let account: String
    public let filedBy: String
    public let reason: String
    public let filedAt: Int64
    public var status: Status
    public var resolvedAt: Int64?
    public var resolution: String?

    public init(
        id: String, account: String, filedBy: String, reason: String, filedAt: Int64, status: Status = .open,
        resolvedAt: Int64? = nil, resolution: String? = nil
    ) {
        self.id = id
        self.account = account
        self.filedBy = filedBy
        self.reason = reason
        self.filedAt = filedAt
        self.status = status
        self.resolvedAt = resolvedAt
        self.resolution = resolution
    }
}

/// One line of an account's registry history, kept forever.
public struct RegistryEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case validated, failed, noShow = "no-show", becameManaged = "became-managed", released
        case challengeFiled = "challenge-filed", challengeUpheld = "challenge-upheld"
        case challengeDismissed = "challenge-dismissed", revoked, expired
        /// The controller of this managed account lost its validation (revoked or expired): this account is
        /// unregistered until the controller is validated again or releases it. `subject`: the controller.
        case controllerLapsed = "controller-lapsed"
        /// The controller was validated again: this account is managed again. `subject`: the controller.
        case controllerValidated = "controller-validated"
    }

    public let account: String
    public let kind: Kind
    public let at: Int64
    /// The party, the other account of a declaration, or the challenge id.
    public let subject: String

    public init(account: String, kind: Kind, at: Int64, subject: String) {
        self.account = account
        self.kind = kind
        self.at = at
        self.subject = subject
    }
}

/// Why a registry operation was refused; the raw value is the API's error code. Nothing changed.
public enum RegistryError: String, Error, Sendable, Hashable {
    case unknownAccount = "account-not-found"
    case notValidated = "not-validated"
    case sameAccount = "same-account"
    case controllerIsManaged = "controller-is-managed"
    case managedAccountManages = "managed-account-manages"
    case alreadyManaged = "already-managed"
    case controllerLimit = "controller-limit"
    case invalidConsent = "invalid-consent"
    case staleConsent = "stale-consent"
    case noSuchDeclaration = "declaration-not-found"
    case notAParty = "not-a-party-to-declaration"
    case noSuchChallenge = "challenge-not-found"
    case challengeResolved = "challenge-already-resolved"
    case duplicateChallenge = "challenge-already-open"
    case invalidReason = "invalid-reason"
}
