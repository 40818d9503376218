import AsyncHTTPClient
import Cluster
import CoordinatorServer
import Foundation
import HTTPHost
import Hummingbird
import NIOCore
import NIOHTTP1
import Signalling

/// One session record sent between nodes: `POST /v1/cluster/session-records`.
struct ForwardedSessionRecord: Codable, Sendable {
    let session: String
    let record: SessionRoom.SessionRecord
}

/// The answer: what the holder's journal returned.
struct ForwardedSessionRecordAnswer: Codable, Sendable {
    let recorded: Bool
}

/// The votes and decisions of sessions on a node that does not hold the coordinator reach the node that
/// does: the sender's journal waits for this route's answer, which comes once the holder has committed the
/// record. Only nodes of the cluster (the cluster's key) may call it; a node that does not hold the
/// coordinator answers 503 and the sender asks again.
enum SessionRecordRoute {
    static func add(
        to router: Router<HostRequestContext>, clusterKey: String, journal: SessionJournal,
        isHolding: @escaping @Sendable () -> Bool
    ) {
        let keys = BearerKeys([clusterKey])
        router.post("/v1/cluster/session-records") { request, _ -> Response in
            guard let key = request.headers[CoordinatorForwarding.clusterKeyField], keys.contains(key) else {
                throw APIError(.unauthorized, "unauthorized", "only nodes of the cluster may send session records")
            }
            guard isHolding() else { return CoordinatorForwarding.unavailable }
            let forwarded = try await JSONRequest.decode(ForwardedSessionRecord.self, from: request)
            let recorded = await journal.recordHere(session: forwarded.session, forwarded.record)
            return JSONResponse.make(ForwardedSessionRecordAnswer(recorded: recorded))
        }
    }
}

/// Sends a session record to the node holding the coordinator (the journal's `forward`).
struct SessionRecordForwarder: Sendable {
    struct NotRecorded: Error, CustomStringConvertible {
        let description: String
    }

    let nodes: ClusterDirectory
    let clusterKey: String

    func send(session: String, record: SessionRoom.SessionRecord) async throws -> Bool {
        guard let holder = await nodes.holder() else {
            throw NotRecorded(description: "no node holds the coordinator")
        }
        var request = HTTPClientRequest(url: holder.httpURL + "/v1/cluster/session-records")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: CoordinatorForwarding.clusterKeyField.rawName, value: clusterKey)
        request.body = .bytes(
            ByteBuffer(bytes: try JSONEncoder().encode(ForwardedSessionRecord(session: session, record: record))))
        let response: HTTPClientResponse
        do {
            response = try await ClusterHTTP.client.execute(request, timeout: .seconds(30))
        } catch {
            // The holder may have changed: the next attempt reads the table again.
            _ = await nodes.holder(fresh: true)
            throw error
        }
        let body = try await response.body.collect(upTo: 4096)
        guard response.status == .ok else {
            _ = await nodes.holder(fresh: true)
            throw NotRecorded(description: "the coordinator's node answered \(response.status.code)")
        }
        return try JSONDecoder().decode(ForwardedSessionRecordAnswer.self, from: Data(body.readableBytesView))
            .recorded
    }
}
