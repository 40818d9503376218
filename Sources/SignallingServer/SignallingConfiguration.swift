import Signalling

/// Everything the signalling endpoint and the session-setup API need; read by PartyLineServer from the
/// `signalling.*` configuration keys.
public struct SignallingConfiguration: Sendable {
    /// Keys a coordinator presents as `Authorization: Bearer KEY`; with none, the session API refuses all.
    public var apiKeys: [String]
    /// Secret the join tokens are signed with; `nil` draws a random one at start (tokens then die with
    /// the process).
    public var tokenSecret: String?
    /// How long a join token stays valid after the session is created.
    public var tokenLifetime: Duration
    /// The WebSocket URL clients are told to connect to.
    public var publicURL: String
    /// `stun:` URLs every member gets.
    public var stunURLs: [String]
    /// `turn:`/`turns:` URLs members get with credentials scoped to their turn.
    public var turnURLs: [String]
    /// TURN REST secrets (coturn's `use-auth-secret`); the first one mints turn-scoped credentials.
    public var turnSecrets: [String]
    /// Lifetime of a turn-scoped TURN credential.
    public var credentialLifetime: Duration
    /// The rules of every group session (overridable per session through the API).
    public var session: GroupSessionConfiguration
    public var limits: SessionRoom.Limits
    /// Without a `startAt`, the first turn starts when every member joined or this long after creation.
    public var joinWindow: Duration
    /// WebSocket ping period; a connection that misses a pong is closed as a ghost.
    public var heartbeat: Duration
    /// How long a finished session stays readable through the API.
    public var retention: Duration
    /// At most this many sessions at once.
    public var maximumSessions: Int
    /// Key of the HMAC-SHA256 signature on result callbacks; without it, sessions cannot ask for one.
    public var callbackSecret: String?
    /// Delivery attempts of a result callback, and the wait before the first retry (doubling after).
    public var callbackAttempts: Int = 8
    public var callbackInitialBackoff: Duration = .seconds(1)
    /// Messages queued for one connection at most; a client that stops reading is closed beyond it.
    public var outboundQueueLimit = 256
    /// How long a new connection may take to send its `join` before it is dropped.
    public var joinTimeout: Duration = .seconds(10)

    public init(
        apiKeys: [String] = [], tokenSecret: String? = nil, tokenLifetime: Duration = .seconds(6 * 3600),
        publicURL: String = "ws://127.0.0.1:8080/v1/signal", stunURLs: [String] = ["stun:127.0.0.1:3478"],
        turnURLs: [String] = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"],
        turnSecrets: [String] = [], credentialLifetime: Duration = .seconds(900),
        session: GroupSessionConfiguration = GroupSessionConfiguration(), limits: SessionRoom.Limits = .init(),
        joinWindow: Duration = .seconds(300), heartbeat: Duration = .seconds(10), retention: Duration = .seconds(3600),
        maximumSessions: Int = 100_000
    ) {
        self.apiKeys = apiKeys
        self.tokenSecret = tokenSecret
        self.tokenLifetime = tokenLifetime
        self.publicURL = publicURL
        self.stunURLs = stunURLs
        self.turnURLs = turnURLs
        self.turnSecrets = turnSecrets
        self.credentialLifetime = credentialLifetime
        self.session = session
        self.limits = limits
        self.joinWindow = joinWindow
        self.heartbeat = heartbeat
        self.retention = retention
        self.maximumSessions = maximumSessions
    }
}
