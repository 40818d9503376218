/// What a node of a cluster does; configuration, not election (`cluster.roles`).
public enum NodeRole: String, Sendable, Hashable, Codable, CaseIterable {
    /// STUN/TURN listeners and relay sockets.
    case relay
    /// Signalling sessions (the WebSocket and the session-setup API).
    case signalling
    /// May hold the coordinator when no live node does.
    case coordinator
}

/// How busy a node is, as its last heartbeat said: what placement compares.
public struct NodeLoad: Sendable, Hashable, Codable {
    /// Signalling sessions open on the node.
    public var sessions: Int
    /// Members connected to those sessions.
    public var members: Int
    /// TURN allocations on the node's relay.
    public var allocations: Int

    public init(sessions: Int = 0, members: Int = 0, allocations: Int = 0) {
        self.sessions = sessions
        self.members = members
        self.allocations = allocations
    }
}

/// One node as the cluster's table records it: its identity, the URLs it advertises, its roles, and its
/// last heartbeat.
public struct NodeRecord: Sendable, Hashable, Codable {
    /// Stable across restarts (`cluster.nodeId`).
    public var id: String
    /// Base URL of the node's HTTP API, for other nodes.
    public var httpURL: String
    /// The WebSocket URL members of sessions placed here connect to.
    public var signallingURL: String
    /// The TURN URLs of the node's relay, handed to members of sessions placed here.
    public var turnURLs: [String]
    public var roles: Set<NodeRole>
    public var load: NodeLoad
    /// The node takes no new work (it is draining).
    public var draining: Bool
    /// Milliseconds since its last heartbeat, by the database's clock (the one clock every node shares).
    public var silentForMilliseconds: Int64
    /// Milliseconds since the node took the coordinator over, by the database's clock; nil when it does
    /// not hold it. A node writing its row sets any value to say it holds the coordinator.
    public var coordinatorForMilliseconds: Int64?

    public init(
        id: String, httpURL: String, signallingURL: String, turnURLs: [String], roles: Set<NodeRole>,
        load: NodeLoad = NodeLoad(), draining: Bool = false, silentForMilliseconds: Int64 = 0,
        coordinatorForMilliseconds: Int64? = nil
    ) {
        self.id = id
        self.httpURL = httpURL
        self.signallingURL = signallingURL
        self.turnURLs = turnURLs
        self.roles = roles
        self.load = load
        self.draining = draining
        self.silentForMilliseconds = silentForMilliseconds
        self.coordinatorForMilliseconds = coordinatorForMilliseconds
    }
}
