import Cluster
import CoordinatorServer
import CoordinatorStore
import Foundation
import PartyLineServer
import RelayServer
import SignallingServer
import Testing

@Suite("cluster.* settings")
struct ClusterConfigurationTests {
    static let postgres = ["--coordinator-database-postgres-url", "postgres://partyline@127.0.0.1:1/db"]

    @Test("unset node id: a single node, even with other cluster keys set")
    func single() async throws {
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil, flags: ["--cluster-roles", "relay"], environment: [:])
        #expect(configuration.cluster == nil)
    }

    @Test("a node's defaults come from the HTTP listener, signalling.publicURL and signalling.turnURLs")
    func defaults() async throws {
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil,
            flags: Self.postgres + [
                "--cluster-node-id", "node-1", "--http-listen", "0.0.0.0:8081",
                "--signalling-public-url", "wss://a.example/v1/signal",
            ],
            environment: [:])
        let cluster = try #require(configuration.cluster)
        #expect(cluster.nodeID == "node-1" && cluster.httpURL == "http://127.0.0.1:8081")
        #expect(cluster.signallingURL == "wss://a.example/v1/signal")
        #expect(cluster.turnURLs == configuration.signalling.turnURLs)
        #expect(cluster.roles == Set(NodeRole.allCases))
        #expect(cluster.heartbeatInterval == .seconds(1) && cluster.deadAfter == .seconds(5))
    }

    @Test("advertised URLs, roles and timings from the environment")
    func advertised() async throws {
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil, flags: Self.postgres,
            environment: [
                "PARTYLINE_CLUSTER_NODE_ID": "relay-2", "PARTYLINE_CLUSTER_ROLES": "relay,signalling",
                "PARTYLINE_CLUSTER_ADVERTISE_HTTP": "http://10.0.0.2:8080",
                "PARTYLINE_CLUSTER_ADVERTISE_TURN": "turn:203.0.113.2:3478,turns:relay-2.example:443",
                "PARTYLINE_CLUSTER_HEARTBEAT_INTERVAL": "0.5", "PARTYLINE_CLUSTER_DEAD_AFTER": "3",
            ])
        let cluster = try #require(configuration.cluster)
        #expect(cluster.roles == [.relay, .signalling] && cluster.httpURL == "http://10.0.0.2:8080")
        #expect(cluster.turnURLs == ["turn:203.0.113.2:3478", "turns:relay-2.example:443"])
        #expect(cluster.heartbeatInterval == .milliseconds(500) && cluster.deadAfter == .seconds(3))
    }

    @Test(
        "refused: no PostgreSQL, a bad node id, an unknown role, deadAfter under two heartbeats",
        arguments: [
            ["--cluster-node-id", "n1"],
            postgres + ["--cluster-node-id", "n 1"],
            postgres + ["--cluster-node-id", "n1", "--cluster-roles", "relay,router"],
            postgres + ["--cluster-node-id", "n1", "--cluster-heartbeat-interval", "2", "--cluster-dead-after", "3"],
        ])
    func refused(flags: [String]) async throws {
        await #expect(throws: ConfigurationError.self) {
            try await PartyLineConfiguration.load(configFile: nil, flags: flags, environment: [:])
        }
    }
}

extension ClusterConfigurationTests {
    @Test("the PostgreSQL URL from a mounted file named by PARTYLINE_COORDINATOR_DATABASE_POSTGRES_URL_FILE")
    func postgresURLFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pg-url-\(UUID())")
        try "postgres://partyline@db.example:5432/p\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil, flags: [],
            environment: [
                "PARTYLINE_COORDINATOR_DATABASE_POSTGRES_URL_FILE": file.path, "PARTYLINE_CLUSTER_NODE_ID": "n1",
            ])
        #expect(configuration.cluster?.nodeID == "n1")
        guard case .postgres(let url) = configuration.coordinator.database else {
            Issue.record("the URL file was not read")
            return
        }
        #expect(url == "postgres://partyline@db.example:5432/p")
    }
}

extension ClusterConfigurationTests {
    @Test("http.connectSources: ws:// and wss:// sources for the page's policy; anything else is refused")
    func connectSources() async throws {
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil, flags: [],
            environment: ["PARTYLINE_HTTP_CONNECT_SOURCES": "wss://*.party.example, ws://127.0.0.1:*"])
        #expect(configuration.connectSources == ["wss://*.party.example", "ws://127.0.0.1:*"])
        for bad in ["https://party.example", "wss://a.example; script-src *"] {
            await #expect(throws: (any Error).self) {
                try await PartyLineConfiguration.load(
                    configFile: nil, flags: [], environment: ["PARTYLINE_HTTP_CONNECT_SOURCES": bad])
            }
        }
    }
}
