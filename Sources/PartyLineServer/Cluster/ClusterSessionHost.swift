import AsyncHTTPClient
import Cluster
import ClusterStore
import Foundation
import NIOCore
import NIOHTTP1
import Signalling
import SignallingServer
import Synchronization

/// The party runner's session host on a node of a cluster: each new group session goes to the live,
/// non-draining signalling node with the least load (this node's own hub, or another node's session-setup
/// API with the cluster's key), and is recorded in `cluster_sessions` before its tokens are handed out.
/// What the runner asks of a session later goes to the node it was placed on; a session on a node that is
/// dead is unknown (nil), so the runner creates the group's session again on a live node, where the members
/// who have an outcome only verify.
///
/// A session on another node reports its end only through its summary: when the runner's poll finds a
/// finished or undersized session there, it is handed to `finished` once, as the local hub does for its own.
final class ClusterSessionHost: SessionHost {
    struct Refused: Error, CustomStringConvertible {
        let description: String
        var status = 0
    }

    let local: SignallingHub
    let selfID: String
    /// For placements.
    let table: NodeTable
    let nodes: ClusterDirectory
    let clusterKey: String
    let finished: @Sendable (SessionSummary) -> Void

    private struct State {
        var placements: [String: String] = [:]
        var reported: Set<String> = []
        /// When the directory that placement last used was read.
        var lastRead: ContinuousClock.Instant?
        /// Load placed on each node since the table was read (the heartbeats have not counted it yet).
        var placedSinceRead: [String: NodeLoad] = [:]
        /// Nodes that refused a session lately: left out of placement until then, though their heartbeat
        /// may still look recent.
        var unreachableUntil: [String: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())

    init(
        local: SignallingHub, selfID: String, table: NodeTable, nodes: ClusterDirectory, clusterKey: String,
        finished: @escaping @Sendable (SessionSummary) -> Void
    ) {
        self.local = local
        self.selfID = selfID
        self.table = table
        self.nodes = nodes
        self.clusterKey = clusterKey
        self.finished = finished
    }

    var sessionRules: GroupSessionConfiguration { local.sessionRules }
    var joinWindow: Duration { local.joinWindow }
    var signallingURL: String { local.signallingURL }

    func signallingURL(of session: String) -> String {
        let id = state.withLock { $0.placements[session] }
        let node = id.flatMap { id in nodes.last?.nodes.first { $0.id == id } }
        return node?.signallingURL ?? local.signallingURL
    }

    /// Places the session on the least loaded node; a node that cannot be reached is passed over (for as
    /// long as a node stays alive without heart-beating) and the next one tried.
    func createSession(_ request: CreateSessionRequest) async throws -> CreateSessionResponse {
        let body = try JSONEncoder().encode(request)
        var lastError: any Error = Refused(description: "no live signalling node")
        for _ in 0..<3 {
            let directory = try await directory()
            let now = ContinuousClock.now
            let target = state.withLock { state in
                let reachable = directory.nodes.filter { (state.unreachableUntil[$0.id] ?? now) <= now }
                return NodeDirectory(nodes: reachable, deadAfterMilliseconds: directory.deadAfterMilliseconds)
                    .leastLoaded(.signalling, extra: state.placedSinceRead)
            }
            guard let target else { throw lastError }
            do {
                return try await create(request, body: body, on: target)
            } catch let failure where ClusterHTTP.neverConnected(failure) {
                // Only a node that could not be reached is passed over; a refusal or a database error is
                // the caller's to see (the runner tries again on its next tick).
                lastError = failure
                let until = now + .milliseconds(directory.deadAfterMilliseconds)
                state.withLock { $0.unreachableUntil[target.id] = until }
            }
        }
        throw lastError
    }

    /// Reads every placement and the nodes' table at once (a node that has just taken the coordinator over
    /// hands members the right signalling URLs from its first answer).
    func preload() async {
        guard let placements = try? await table.placements() else { return }
        state.withLock { state in
            state.placements.merge(placements) { current, _ in current }
        }
        _ = try? await directory(fresh: true)
    }

    private func create(
        _ request: CreateSessionRequest, body: Data, on target: NodeRecord
    ) async throws -> CreateSessionResponse {
        let created: CreateSessionResponse
        if target.id == selfID {
            created = try local.createSession(request)
        } else {
            created = try await call(target, "POST", "/v1/sessions", body: body)
        }
        try await table.place(session: created.session, node: target.id)
        state.withLock { state in
            state.placements[created.session] = target.id
            state.placedSinceRead[target.id, default: NodeLoad()].sessions += 1
            state.placedSinceRead[target.id, default: NodeLoad()].members += request.members.count
        }
        return created
    }

    func summary(of session: String) async throws -> SessionSummary? {
        guard let node = try await node(of: session) else { return nil }
        if node.id == selfID { return local.summary(of: session) }
        let summary: SessionSummary? = try await optionalCall(node, "/v1/sessions/\(session)")
        if let summary, summary.state == "finished" || summary.state == "undersized" {
            let first = state.withLock { $0.reported.insert(session).inserted }
            if first { finished(summary) }
        }
        return summary
    }

    func turnInProgress(of session: String) async throws -> RunningTurn? {
        guard let node = try await node(of: session) else { return nil }
        if node.id == selfID { return local.turnInProgress(of: session) }
        return try await optionalCall(node, "/v1/sessions/\(session)/turn")
    }

    /// The live node `session` runs on; nil when it was placed on a node now dead. A session placed by no
    /// node of the cluster is taken for this node's own.
    private func node(of session: String) async throws -> NodeRecord? {
        var id = state.withLock { $0.placements[session] }
        if id == nil {
            id = try await table.placement(of: session)
            if let id { state.withLock { $0.placements[session] = id } }
        }
        guard let id, id != selfID else {
            return NodeRecord(id: selfID, httpURL: "", signallingURL: local.signallingURL, turnURLs: [], roles: [])
        }
        let directory = try await directory()
        return directory.live.first { $0.id == id }
    }

    /// The cluster's nodes; what was placed since the last read is forgotten once a new read counts it.
    private func directory(fresh: Bool = false) async throws -> NodeDirectory {
        let (directory, read) = try await nodes.read(fresh: fresh)
        state.withLock { state in
            guard state.lastRead != read else { return }
            state.lastRead = read
            state.placedSinceRead = [:]
        }
        return directory
    }

    private func optionalCall<Answer: Decodable>(_ node: NodeRecord, _ path: String) async throws -> Answer? {
        do {
            return try await call(node, "GET", path, body: nil)
        } catch let refused as Refused where refused.status == 404 {
            return nil
        }
    }

    private func call<Answer: Decodable>(
        _ node: NodeRecord, _ method: String, _ path: String, body: Data?
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: node.httpURL + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(clusterKey)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await ClusterHTTP.client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        guard (200..<300).contains(response.status.code) else {
            throw Refused(
                description: "\(node.id) answered \(response.status.code) to \(method) \(path)",
                status: Int(response.status.code))
        }
        return try JSONDecoder().decode(Answer.self, from: Data(bytes.readableBytesView))
    }
}
