import Cluster
import Foundation
import Logging
import PostgresKit
import SQLKit

/// The cluster's tables on the shared PostgreSQL: `cluster_nodes`, where each node writes its own row (a
/// heartbeat) and reads everyone's, and `cluster_sessions`, the node each group session was placed on.
/// Liveness is measured by the database's clock, the one clock all nodes share. One connection, opened
/// again after it drops; every call throws while the database is away.
public final class NodeTable: Sendable {
    /// Why a call failed; the driver's error is kept in the message.
    public struct TableError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private let connection: ClusterConnection

    public init(url: String, logger: Logger) {
        connection = ClusterConnection(url: url, id: 2, logger: logger)
    }

    /// Writes this node's row with a fresh heartbeat (creating the table the first time). A node that holds
    /// the coordinator keeps the time it took it over, unless `tookOver` says it just took it (again).
    public func heartbeat(_ node: NodeRecord, tookOver: Bool = false) async throws {
        let turnURLs = String(decoding: try JSONEncoder().encode(node.turnURLs), as: UTF8.self)
        let roles = node.roles.map(\.rawValue).sorted().joined(separator: ",")
        let holds = node.coordinatorForMilliseconds != nil
        try await run { database in
            try await database.raw(
                """
                INSERT INTO cluster_nodes (id, http_url, signalling_url, turn_urls, roles, sessions, members,
                    allocations, draining, heartbeat_at, coordinator_since)
                VALUES (\(bind: node.id), \(bind: node.httpURL), \(bind: node.signallingURL), \(bind: turnURLs),
                    \(bind: roles), \(bind: node.load.sessions), \(bind: node.load.members),
                    \(bind: node.load.allocations), \(bind: node.draining), now(),
                    CASE WHEN \(bind: holds) THEN now() END)
                ON CONFLICT (id) DO UPDATE SET http_url = EXCLUDED.http_url,
                    signalling_url = EXCLUDED.signalling_url, turn_urls = EXCLUDED.turn_urls,
                    roles = EXCLUDED.roles, sessions = EXCLUDED.sessions, members = EXCLUDED.members,
                    allocations = EXCLUDED.allocations, draining = EXCLUDED.draining, heartbeat_at = now(),
                    coordinator_since = CASE WHEN \(bind: holds) AND \(bind: tookOver) THEN now()
                        WHEN \(bind: holds) THEN COALESCE(cluster_nodes.coordinator_since, now()) END
                """
            ).run()
        }
    }

    /// Every node's row, with how long ago it last beat.
    public func nodes() async throws -> [NodeRecord] {
        try await run { database in
            try await database.raw(
                """
                SELECT id, http_url, signalling_url, turn_urls, roles, sessions, members, allocations, draining,
                    CAST(EXTRACT(EPOCH FROM (now() - heartbeat_at)) * 1000 AS BIGINT) AS silent_ms,
                    CAST(EXTRACT(EPOCH FROM (now() - coordinator_since)) * 1000 AS BIGINT) AS coordinator_ms
                FROM cluster_nodes ORDER BY id
                """
            ).all().map(Self.record)
        }
    }

    /// Records that `session` runs on node `node` (before the coordinator hands its tokens out, so a node
    /// taking the coordinator over finds every session).
    public func place(session: String, node: String) async throws {
        try await run { database in
            try await database.raw(
                """
                INSERT INTO cluster_sessions (session, node, placed_at) VALUES (\(bind: session), \(bind: node), now())
                ON CONFLICT (session) DO UPDATE SET node = EXCLUDED.node, placed_at = now()
                """
            ).run()
        }
    }

    /// Every session's node.
    public func placements() async throws -> [String: String] {
        try await run { database in
            var placements: [String: String] = [:]
            for row in try await database.raw("SELECT session, node FROM cluster_sessions").all() {
                placements[try row.decode(column: "session", as: String.self)] = try row.decode(
                    column: "node", as: String.self)
            }
            return placements
        }
    }

    /// The node `session` was placed on; nil for a session placed by no node of the cluster.
    public func placement(of session: String) async throws -> String? {
        try await run { database in
            try await database.raw("SELECT node FROM cluster_sessions WHERE session = \(bind: session)").first()?
                .decode(column: "node", as: String.self)
        }
    }

    /// Deletes this node's row: a node that stops cleanly is gone from the cluster at once.
    public func remove(id: String) async throws {
        try await run { database in
            try await database.raw("DELETE FROM cluster_nodes WHERE id = \(bind: id)").run()
        }
    }

    /// Closes the connection.
    public func close() async { await connection.close() }

    private static func record(_ row: any SQLRow) throws -> NodeRecord {
        let turnURLs = try JSONDecoder().decode(
            [String].self, from: Data(try row.decode(column: "turn_urls", as: String.self).utf8))
        let roles = try row.decode(column: "roles", as: String.self).split(separator: ",")
            .compactMap { NodeRole(rawValue: String($0)) }
        return NodeRecord(
            id: try row.decode(column: "id", as: String.self),
            httpURL: try row.decode(column: "http_url", as: String.self),
            signallingURL: try row.decode(column: "signalling_url", as: String.self),
            turnURLs: turnURLs, roles: Set(roles),
            load: NodeLoad(
                sessions: try row.decode(column: "sessions", as: Int.self),
                members: try row.decode(column: "members", as: Int.self),
                allocations: try row.decode(column: "allocations", as: Int.self)),
            draining: try row.decode(column: "draining", as: Bool.self),
            silentForMilliseconds: try row.decode(column: "silent_ms", as: Int64.self),
            coordinatorForMilliseconds: try row.decode(column: "coordinator_ms", as: Int64?.self))
    }

    /// Runs `body` on the open connection, opening it (and the tables) first if needed; a failure that closed
    /// the connection makes the next call start afresh.
    private func run<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let open: PostgresConnection
        do {
            open = try await connection.open()
        } catch {
            throw TableError(description: "cannot open cluster_nodes: \(String(reflecting: error))")
        }
        do {
            return try await body(open.sql(queryLogLevel: nil))
        } catch {
            connection.forget(open)
            throw TableError(description: "cluster_nodes: \(String(reflecting: error))")
        }
    }
}
