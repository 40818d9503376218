import CoordinatorStore

/// The coordinator's settings (`coordinator.*` in the configuration file).
public struct CoordinatorConfiguration: Sendable {
    /// Where the coordinator's tables live: an SQLite file by default, PostgreSQL when a URL is configured.
    public var database: SQLCoordinatorStore.Backend
    /// Bearer keys for the admin calls (creating parties, crediting deposits). None: admin calls are refused.
    public var adminKeys: [String]
    /// Secret that signs login challenges and account session tokens; nil: a random one per process (sessions
    /// do not survive a restart).
    public var loginSecret: String?
    /// Seconds a login challenge may be answered.
    public var challengeLifetime: Int64
    /// Seconds an account session token lasts.
    public var sessionLifetime: Int64
    /// Seconds a validation lasts.
    public var validity: Int64 = 365 * 86_400
    /// Most accounts one controller may manage.
    public var controllerLimit = 10
    /// Fewest members present at a group's start for its turns to run; the present members of a group below
    /// it are placed in a new group with others of the party.
    public var minimumPresent = 4
    /// URLs that receive signed webhooks (party completed, level changed).
    public var webhookURLs: [String] = []
    /// Secret that signs webhooks (`X-PartyLine-Signature`); required when `webhookURLs` is set.
    public var webhookSecret: String?
    /// Login calls (challenge and session, each one) a second per client address, and the burst above
    /// that; over it a call is answered 429 `rate-limited`. 0 turns the limit off.
    public var loginsPerSecond: Double = 2
    public var loginBurst = 20

    public init(
        database: SQLCoordinatorStore.Backend = .sqlite(path: "data/partyline.sqlite"), adminKeys: [String] = [],
        loginSecret: String? = nil, challengeLifetime: Int64 = 120, sessionLifetime: Int64 = 3600
    ) {
        self.database = database
        self.adminKeys = adminKeys
        self.loginSecret = loginSecret
        self.challengeLifetime = challengeLifetime
        self.sessionLifetime = sessionLifetime
    }
}
