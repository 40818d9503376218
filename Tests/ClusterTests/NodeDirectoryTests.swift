import Cluster
import Testing

@Suite("Which nodes are alive, and where new work goes")
struct NodeDirectoryTests {
    static func node(
        _ id: String, members: Int = 0, sessions: Int = 0, roles: Set<NodeRole> = Set(NodeRole.allCases),
        draining: Bool = false, silent: Int64 = 0
    ) -> NodeRecord {
        NodeRecord(
            id: id, httpURL: "http://\(id)", signallingURL: "ws://\(id)/v1/signal", turnURLs: [], roles: roles,
            load: NodeLoad(sessions: sessions, members: members), draining: draining, silentForMilliseconds: silent)
    }

    @Test("a node silent for deadAfter or longer is dead; one just under it is alive")
    func liveness() {
        let directory = NodeDirectory(
            nodes: [Self.node("c", silent: 5_000), Self.node("a", silent: 4_999), Self.node("b", silent: 0)],
            deadAfterMilliseconds: 5_000)
        #expect(directory.live.map(\.id) == ["a", "b"])
        #expect(directory.dead.map(\.id) == ["c"])
        #expect(directory.isLive("a") && !directory.isLive("c") && !directory.isLive("unknown"))
    }

    @Test("the least loaded live node with the role: fewest members, then sessions, then the smallest id")
    func leastLoaded() {
        let nodes = [
            Self.node("a", members: 12, sessions: 2), Self.node("b", members: 6, sessions: 3),
            Self.node("c", members: 6, sessions: 1), Self.node("d", members: 6, sessions: 1),
            Self.node("e", members: 0, draining: true), Self.node("f", members: 0, silent: 9_000),
            Self.node("g", members: 0, roles: [.relay]),
        ]
        let directory = NodeDirectory(nodes: nodes, deadAfterMilliseconds: 5_000)
        #expect(directory.leastLoaded(.signalling)?.id == "c")
        #expect(directory.leastLoaded(.relay)?.id == "g")
        // What the caller placed since the loads were read counts too.
        #expect(directory.leastLoaded(.signalling, extra: ["c": NodeLoad(sessions: 1, members: 6)])?.id == "d")
        #expect(
            NodeDirectory(nodes: [nodes[4], nodes[5]], deadAfterMilliseconds: 5_000).leastLoaded(.signalling) == nil)
    }
}
