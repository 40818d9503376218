import SQLKit

/// The cluster's tables, made by whichever node connects first.
enum ClusterSchema {
    /// Serializes table creation between nodes starting at once ("PLNODES1" as bytes).
    static let creationLock: Int64 = 0x504C_4E4F_4445_5331

    /// Creates the tables that are missing, under a transaction-level advisory lock: two nodes creating them
    /// at once would otherwise collide in PostgreSQL's catalogue.
    static func create(_ database: any SQLDatabase) async throws {
        try await database.raw("BEGIN").run()
        do {
            try await database.raw("SELECT pg_advisory_xact_lock(\(bind: creationLock))").run()
            for statement in statements { try await database.raw(SQLQueryString(statement)).run() }
            try await database.raw("COMMIT").run()
        } catch {
            try? await database.raw("ROLLBACK").run()
            throw error
        }
    }

    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS cluster_nodes (
            id TEXT PRIMARY KEY, http_url TEXT NOT NULL, signalling_url TEXT NOT NULL,
            turn_urls TEXT NOT NULL, roles TEXT NOT NULL, sessions BIGINT NOT NULL, members BIGINT NOT NULL,
            allocations BIGINT NOT NULL, draining BOOLEAN NOT NULL, heartbeat_at TIMESTAMPTZ NOT NULL,
            coordinator_since TIMESTAMPTZ)
        """,
        "ALTER TABLE cluster_nodes ADD COLUMN IF NOT EXISTS coordinator_since TIMESTAMPTZ",
        """
        CREATE TABLE IF NOT EXISTS cluster_sessions (
            session TEXT PRIMARY KEY, node TEXT NOT NULL, placed_at TIMESTAMPTZ NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS cluster_revocations (
            id BIGSERIAL PRIMARY KEY, subject_prefix TEXT NOT NULL, origin TEXT NOT NULL,
            revoked_at TIMESTAMPTZ NOT NULL)
        """,
    ]
}
