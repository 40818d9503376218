import Cluster
import Configuration
import Foundation
import RelayServer

/// This process as a node of a cluster sharing one PostgreSQL (`cluster.*`): off unless `cluster.nodeId` is
/// set. See `config/partyline.example.yaml`.
public struct ClusterConfiguration: Sendable {
    /// Stable across restarts; unique in the cluster.
    public var nodeID: String
    /// The node's HTTP API as other nodes reach it (`cluster.advertise.http`).
    public var httpURL: String
    /// The WebSocket URL for members of sessions placed on this node (`cluster.advertise.signalling`;
    /// `signalling.publicURL` by default).
    public var signallingURL: String
    /// The node's relay as members reach it (`cluster.advertise.turn`; `signalling.turnURLs` by default).
    public var turnURLs: [String]
    public var roles: Set<NodeRole>
    /// How often the node writes its heartbeat (`cluster.heartbeatInterval`, seconds).
    public var heartbeatInterval: Duration
    /// Silence after which the others hold a node dead (`cluster.deadAfter`, seconds).
    public var deadAfter: Duration

    public init(
        nodeID: String, httpURL: String, signallingURL: String, turnURLs: [String],
        roles: Set<NodeRole> = Set(NodeRole.allCases), heartbeatInterval: Duration = .seconds(1),
        deadAfter: Duration = .seconds(5)
    ) {
        self.nodeID = nodeID
        self.httpURL = httpURL
        self.signallingURL = signallingURL
        self.turnURLs = turnURLs
        self.roles = roles
        self.heartbeatInterval = heartbeatInterval
        self.deadAfter = deadAfter
    }

    /// Reads `cluster.*`; nil when `cluster.nodeId` is unset. The defaults come from the rest of the
    /// configuration: the HTTP listener, the signalling URL and the TURN URLs.
    init?(
        reader: ConfigReader, defaultHTTPURL: String, defaultSignallingURL: String, defaultTURNURLs: [String],
        hasSharedDatabase: Bool
    ) throws {
        // Every key is read before deciding, so none is reported unknown when the node id is missing.
        let nodeID = reader.string(forKey: "cluster.nodeId") ?? ""
        let httpURL = reader.string(forKey: "cluster.advertise.http", default: defaultHTTPURL)
        let signallingURL = reader.string(forKey: "cluster.advertise.signalling", default: defaultSignallingURL)
        let turnList: [String] = reader.stringArray(forKey: "cluster.advertise.turn") ?? defaultTURNURLs
        let turnURLs = turnList.flatMap { $0.split(separator: ",") }.map(String.init).filter { !$0.isEmpty }
        let roleList: [String] = reader.stringArray(forKey: "cluster.roles") ?? ["relay,signalling,coordinator"]
        let roleNames = roleList.flatMap { $0.split(separator: ",") }
        let interval = reader.double(forKey: "cluster.heartbeatInterval", default: 1)
        let deadAfter = reader.double(forKey: "cluster.deadAfter", default: 5)
        guard !nodeID.isEmpty else { return nil }
        guard hasSharedDatabase else {
            throw ConfigurationError("cluster.nodeId needs coordinator.database.postgresURL: nodes share PostgreSQL")
        }
        guard nodeID.count <= 64,
            nodeID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else {
            throw ConfigurationError("cluster.nodeId: at most 64 letters, digits, '-', '_' or '.'")
        }
        var roles = Set<NodeRole>()
        for name in roleNames {
            guard let role = NodeRole(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError("cluster.roles: unknown role '\(name)': relay, signalling or coordinator")
            }
            roles.insert(role)
        }
        guard interval > 0, deadAfter >= 2 * interval else {
            throw ConfigurationError(
                "cluster.heartbeatInterval must be positive and cluster.deadAfter at least twice as long")
        }
        self.init(
            nodeID: nodeID, httpURL: httpURL, signallingURL: signallingURL, turnURLs: turnURLs, roles: roles,
            heartbeatInterval: .milliseconds(Int64(interval * 1000)),
            deadAfter: .milliseconds(Int64(deadAfter * 1000)))
    }
}
