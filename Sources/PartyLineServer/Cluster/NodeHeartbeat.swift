import Cluster
import ClusterStore
import Logging
import ServiceLifecycle

/// Writes this node's row in `cluster_nodes` every heartbeat interval, with its load and whether it drains,
/// until the group shuts down; then deletes the row, so the others stop placing work here at once (the
/// table's connection is closed by the app, once every service is done with it). A
/// database that does not answer is logged once when it starts and once when it ends; the beats go on.
struct NodeHeartbeat: Service {
    let table: NodeTable
    let configuration: ClusterConfiguration
    let load: @Sendable () async -> NodeLoad
    let draining: @Sendable () -> Bool
    /// Whether this node holds the coordinator now.
    let holdsCoordinator: @Sendable () -> Bool
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await beat()
                    if failing { logger.notice("cluster heartbeat written again") }
                    failing = false
                } catch {
                    if !failing {
                        logger.warning("cluster heartbeat failed; retrying", metadata: ["error": "\(error)"])
                    }
                    failing = true
                }
                try? await Task.sleep(for: configuration.heartbeatInterval)
            }
        }
        do {
            try await table.remove(id: configuration.nodeID)
        } catch {
            logger.warning("cluster row not removed at shutdown", metadata: ["error": "\(error)"])
        }
    }

    /// Writes one heartbeat now (also right after the node takes the coordinator over, `tookOver`, so the
    /// others forward to it without waiting for the next beat, and take it for the newest holder).
    func beat(tookOver: Bool = false) async throws {
        try await table.heartbeat(record(load: await load()), tookOver: tookOver)
    }

    func record(load: NodeLoad) -> NodeRecord {
        NodeRecord(
            id: configuration.nodeID, httpURL: configuration.httpURL, signallingURL: configuration.signallingURL,
            turnURLs: configuration.turnURLs, roles: configuration.roles, load: load, draining: draining(),
            coordinatorForMilliseconds: holdsCoordinator() ? 0 : nil)
    }
}
