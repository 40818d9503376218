/// Where group sessions are set up and run, as the party coordinator sees it: the session-setup API
/// (`POST /v1/sessions`) and what the coordinator reads back. The node's own `SignallingHub` is one. A
/// session's votes and decisions (its journal) and its final summary come back separately, through the
/// closures the hub is made with.
public protocol SessionHost: Sendable {
    /// The rules sessions run by (turn deadline, no-show grace), for the coordinator's time budgets.
    var sessionRules: GroupSessionConfiguration { get }
    /// How long a session waits for its members before its first turn starts with whoever has joined.
    var joinWindow: Duration { get }
    /// The `wss://` (or `ws://`) URL members connect to for sessions of this host.
    var signallingURL: String { get }
    /// Creates a group session and one join token per member; throws when the host refuses (for instance
    /// while it drains).
    func createSession(_ request: CreateSessionRequest) async throws -> CreateSessionResponse
    /// A live or recently finished session's summary; nil when the host does not know the session. Throws
    /// when the host cannot tell (unreachable): the caller must not take that for an unknown session.
    func summary(of session: String) async throws -> SessionSummary?
    /// The turn running in a session; nil between turns and for unknown sessions. Throws when the host cannot
    /// tell.
    func turnInProgress(of session: String) async throws -> RunningTurn?
    /// The URL members of `session` connect to: `signallingURL` unless the session runs elsewhere.
    func signallingURL(of session: String) -> String
}

extension SessionHost {
    public func signallingURL(of session: String) -> String { signallingURL }
}

/// `GET /v1/sessions/{id}/turn`: the turn whose prover is on now, and who verifies it.
public struct RunningTurn: Sendable, Hashable, Codable {
    public let turn: Int
    public let prover: String
    public let proverPseudonym: String
    /// The verifiers present, sorted.
    public let verifiers: [String]

    public init(turn: Int, prover: String, proverPseudonym: String, verifiers: [String]) {
        self.turn = turn
        self.prover = prover
        self.proverPseudonym = proverPseudonym
        self.verifiers = verifiers
    }
}

/// `POST /v1/sessions`: the members of one group and optional rules.
public struct CreateSessionRequest: Sendable, Codable {
    public struct Options: Sendable, Codable {
        public var turnDeadlineSeconds: Int?
        public var noShowGraceSeconds: Int?
        public var reconnectGraceSeconds: Int?
        public var prompts: [String]?
        /// Fewest members present at the start for the turns to run (2…members); below it the session ends
        /// `undersized` and reports who was present. No minimum when absent.
        public var minimumPresent: Int?

        public init(
            turnDeadlineSeconds: Int? = nil, noShowGraceSeconds: Int? = nil, reconnectGraceSeconds: Int? = nil,
            prompts: [String]? = nil, minimumPresent: Int? = nil
        ) {
            self.turnDeadlineSeconds = turnDeadlineSeconds
            self.noShowGraceSeconds = noShowGraceSeconds
            self.reconnectGraceSeconds = reconnectGraceSeconds
            self.prompts = prompts
            self.minimumPresent = minimumPresent
        }
    }

    /// Member ids as the coordinator knows them: 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
    public var members: [String]
    /// The members who take a turn as prover (distinct, at least one); every member when absent. The others
    /// only verify (for instance members whose outcome is already recorded, in a session created again).
    public var provers: [String]?
    /// Unix seconds at which the first turn starts with whoever has joined.
    public var startAt: Int64?
    public var options: Options?
    /// An `http(s)` URL that receives the session's result, signed (see `CallbackSignature`).
    public var callbackURL: String?

    public init(
        members: [String], provers: [String]? = nil, startAt: Int64? = nil, options: Options? = nil,
        callbackURL: String? = nil
    ) {
        self.members = members
        self.provers = provers
        self.startAt = startAt
        self.options = options
        self.callbackURL = callbackURL
    }
}

/// The answer to `POST /v1/sessions`: one join token per member, to be handed to that member only.
public struct CreateSessionResponse: Sendable, Codable {
    public struct Member: Sendable, Codable {
        public let member: String
        public let pseudonym: String
        public let token: String

        public init(member: String, pseudonym: String, token: String) {
            self.member = member
            self.pseudonym = pseudonym
            self.token = token
        }
    }

    public let session: String
    public let signallingURL: String
    /// Unix seconds after which the tokens are refused.
    public let expires: Int64
    public let members: [Member]

    public init(session: String, signallingURL: String, expires: Int64, members: [Member]) {
        self.session = session
        self.signallingURL = signallingURL
        self.expires = expires
        self.members = members
    }
}
