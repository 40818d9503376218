import Cluster
import ClusterStore
import Foundation
import Logging
import PartyLineTesting
import PostgresKit
import Testing

/// `cluster_nodes` on a real PostgreSQL (`PARTYLINE_TEST_POSTGRES_URL`; `scripts/test.sh` starts one): each
/// test gets a new database.
@Suite("The cluster's node table on PostgreSQL", .enabled(if: TestPostgres.url != nil))
struct NodeTableTests {
    static let logger = Logger(label: "partyline.test.cluster")

    static func freshDatabase() async throws -> String { try await TestPostgres.freshDatabase() }

    static func record(_ id: String, members: Int) -> NodeRecord {
        NodeRecord(
            id: id, httpURL: "http://127.0.0.1:1/\(id)", signallingURL: "ws://127.0.0.1:1/\(id)/v1/signal",
            turnURLs: ["turn:127.0.0.1:3478?transport=udp", "turns:\(id).example:5349"], roles: [.relay, .signalling],
            load: NodeLoad(sessions: 1, members: members, allocations: 2 * members))
    }

    @Test("two nodes starting at once both create the table and both are listed, with their URLs and loads")
    func twoNodes() async throws {
        let url = try await Self.freshDatabase()
        let first = NodeTable(url: url, logger: Self.logger)
        let second = NodeTable(url: url, logger: Self.logger)
        async let a: Void = first.heartbeat(Self.record("node-a", members: 6))
        async let b: Void = second.heartbeat(Self.record("node-b", members: 12))
        _ = try await (a, b)
        let nodes = try await first.nodes()
        #expect(nodes.map(\.id) == ["node-a", "node-b"])
        var expected = Self.record("node-b", members: 12)
        expected.silentForMilliseconds = nodes[1].silentForMilliseconds
        #expect(nodes[1] == expected)
        #expect(nodes.allSatisfy { $0.silentForMilliseconds >= 0 && $0.silentForMilliseconds < 5_000 })
        await first.close()
        await second.close()
    }

    @Test("a node that stops beating falls silent and is dead to the others; a removed node is gone")
    func silence() async throws {
        let url = try await Self.freshDatabase()
        let table = NodeTable(url: url, logger: Self.logger)
        try await table.heartbeat(Self.record("quiet", members: 0))
        try await Task.sleep(for: .milliseconds(1_100))
        var beating = Self.record("beating", members: 0)
        beating.draining = true
        try await table.heartbeat(beating)
        let directory = NodeDirectory(nodes: try await table.nodes(), deadAfterMilliseconds: 1_000)
        #expect(directory.dead.map(\.id) == ["quiet"])
        #expect(directory.live.map(\.id) == ["beating"] && directory.live.first?.draining == true)
        // A new beat brings it back; an update keeps one row per node.
        try await table.heartbeat(Self.record("quiet", members: 18))
        let again = try await table.nodes()
        #expect(again.count == 2 && again.first { $0.id == "quiet" }?.load.members == 18)
        #expect(NodeDirectory(nodes: again, deadAfterMilliseconds: 1_000).isLive("quiet"))
        try await table.remove(id: "quiet")
        #expect(try await table.nodes().map(\.id) == ["beating"])
        await table.close()
    }

    @Test("a database that does not answer is a typed error, not a hang or a crash")
    func unreachable() async throws {
        let table = NodeTable(url: "postgres://partyline@127.0.0.1:1/none?sslmode=disable", logger: Self.logger)
        await #expect(throws: NodeTable.TableError.self) { try await table.nodes() }
        await table.close()
    }
}
