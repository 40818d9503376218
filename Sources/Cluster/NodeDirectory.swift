/// The cluster as one node sees it at one moment: which nodes are alive, and where new work goes. A node
/// silent for longer than `deadAfter` is dead to the others, whatever it thinks of itself.
public struct NodeDirectory: Sendable {
    public let nodes: [NodeRecord]
    public let deadAfterMilliseconds: Int64

    public init(nodes: [NodeRecord], deadAfterMilliseconds: Int64) {
        self.nodes = nodes
        self.deadAfterMilliseconds = deadAfterMilliseconds
    }

    /// Nodes whose last heartbeat is recent enough, by id.
    public var live: [NodeRecord] {
        nodes.filter { $0.silentForMilliseconds < deadAfterMilliseconds }.sorted { $0.id < $1.id }
    }

    /// Nodes that stopped heart-beating.
    public var dead: [NodeRecord] {
        nodes.filter { $0.silentForMilliseconds >= deadAfterMilliseconds }.sorted { $0.id < $1.id }
    }

    /// Whether `id` is alive.
    public func isLive(_ id: String) -> Bool { live.contains { $0.id == id } }

    /// The node holding the coordinator: of the live nodes that say they hold it, the one that took it over
    /// last (a holder killed a moment ago still looks live until its silence passes `deadAfter`, but its
    /// successor took over after it). Nil while none does.
    public var coordinator: NodeRecord? {
        live.filter { $0.coordinatorForMilliseconds != nil }.min {
            ($0.coordinatorForMilliseconds ?? 0, $0.id) < ($1.coordinatorForMilliseconds ?? 0, $1.id)
        }
    }

    /// The live, non-draining node with `role` that is least loaded: fewest members, then fewest
    /// sessions, then fewest allocations, then the smallest id (so a tie is decided the same way on every
    /// node); `extra` adds what the caller placed since the loads were read. Nil when none has the role.
    public func leastLoaded(_ role: NodeRole, extra: [String: NodeLoad] = [:]) -> NodeRecord? {
        live.filter { !$0.draining && $0.roles.contains(role) }.min { a, b in
            let x = Self.key(a, extra[a.id]), y = Self.key(b, extra[b.id])
            return x != y ? x.lexicographicallyPrecedes(y) : a.id < b.id
        }
    }

    private static func key(_ node: NodeRecord, _ extra: NodeLoad?) -> [Int] {
        let added = extra ?? NodeLoad()
        return [
            node.load.members + added.members, node.load.sessions + added.sessions,
            node.load.allocations + added.allocations,
        ]
    }
}
