import Cluster
import ClusterStore
import HTTPHost
import Hummingbird

/// `GET /v1/cluster/nodes` (an admin key): every node of the cluster's table, live or dead, as the database
/// sees it now; 503 `cluster-unavailable` while the database does not answer.
enum ClusterRoute {
    struct NodesResponse: Encodable, Sendable {
        struct Node: Encodable, Sendable {
            let id: String
            let httpURL: String
            let signallingURL: String
            let turnURLs: [String]
            let roles: [String]
            let load: NodeLoad
            let draining: Bool
            let live: Bool
            let silentForMilliseconds: Int64
            /// Whether this is the node holding the coordinator now.
            let coordinator: Bool
        }
        let deadAfterMilliseconds: Int64
        let nodes: [Node]
    }

    static func add(
        to router: Router<HostRequestContext>, table: NodeTable, deadAfter: Duration, adminKeys: [String]
    ) {
        let keys = BearerKeys(adminKeys)
        let deadAfterMilliseconds = Int64(deadAfter / .milliseconds(1))
        router.get("/v1/cluster/nodes") { request, _ -> Response in
            try keys.authorize(request)
            let records: [NodeRecord]
            do {
                records = try await table.nodes()
            } catch {
                throw APIError(.serviceUnavailable, "cluster-unavailable", "the cluster's database does not answer")
            }
            let directory = NodeDirectory(nodes: records, deadAfterMilliseconds: deadAfterMilliseconds)
            return JSONResponse.make(
                NodesResponse(
                    deadAfterMilliseconds: deadAfterMilliseconds,
                    nodes: records.map { node in
                        .init(
                            id: node.id, httpURL: node.httpURL, signallingURL: node.signallingURL,
                            turnURLs: node.turnURLs, roles: node.roles.map(\.rawValue).sorted(), load: node.load,
                            draining: node.draining, live: directory.isLive(node.id),
                            silentForMilliseconds: node.silentForMilliseconds,
                            coordinator: directory.coordinator?.id == node.id)
                    }))
        }
    }
}
