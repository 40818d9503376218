import HTTPHost
import Hummingbird

/// `POST /v1/admin/revocations` (an admin key): withdraws the TURN credentials of every subject starting
/// with `subjectPrefix` and closes their allocations at this node's relay and, on a node of a cluster, at
/// every relay of the cluster (`RevocationFollower`). For an operator who must stop credentials that leaked.
enum RevocationRoute {
    struct Request: Decodable {
        let subjectPrefix: String
    }

    struct Answer: Encodable {
        let subjectPrefix: String
        /// Allocations closed at this node's relay.
        let allocationsClosed: Int
        /// Whether the revocation was published to the cluster's other relays.
        let cluster: Bool
    }

    static func add(
        to router: Router<HostRequestContext>, adminKeys: [String],
        revoke: @escaping @Sendable (_ subjectPrefix: String) async throws -> (closed: Int, cluster: Bool)
    ) {
        let keys = BearerKeys(adminKeys)
        router.post("/v1/admin/revocations") { request, _ -> Response in
            try keys.authorize(request)
            let body = try await JSONRequest.decode(Request.self, from: request)
            guard !body.subjectPrefix.isEmpty, body.subjectPrefix.utf8.count <= 256 else {
                throw APIError(.badRequest, "invalid-subject-prefix", "subjectPrefix must be 1 to 256 bytes")
            }
            let (closed, cluster) = try await revoke(body.subjectPrefix)
            return JSONResponse.make(
                Answer(subjectPrefix: body.subjectPrefix, allocationsClosed: closed, cluster: cluster))
        }
    }
}
