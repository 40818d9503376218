import Foundation
import Logging
import PostgresKit
import SQLKit
import Synchronization

/// A TURN subject prefix revoked somewhere in the cluster.
public struct Revocation: Sendable, Hashable {
    /// Increasing in the order revocations were published.
    public let id: Int64
    public let subjectPrefix: String
    /// The node that published it.
    public let origin: String
    /// Microseconds from its publication to its reading, by the database's clock.
    public let ageMicroseconds: Int64
}

/// Revocations of TURN subjects across the relays of a cluster: each is a row of `cluster_revocations` and a
/// `NOTIFY` on ``channel``. A follower listens, and on each notification (and after every reconnection)
/// reads the rows after the last it saw, so a node that was cut off for a while still learns of the
/// revocations it missed. Rows are kept for a day, longer than a turn's credentials live.
public final class RevocationFeed: Sendable {
    /// The notification channel.
    public static let channel = "partyline_revocations"
    /// How long a revocation is kept for followers that were away.
    static let retention = "1 day"

    private let url: String
    private let logger: Logger
    private let publisher = Mutex<PostgresConnection?>(nil)
    private let nextPrune = Mutex<ContinuousClock.Instant>(.now)

    public init(url: String, logger: Logger) {
        self.url = url
        self.logger = logger
    }

    /// Records the revocation and notifies every follower, in one statement.
    public func publish(subjectPrefix: String, origin: String) async throws {
        let connection = try await openPublisher()
        do {
            let database = connection.sql(queryLogLevel: nil)
            try await database.raw(
                """
                WITH added AS (
                    INSERT INTO cluster_revocations (subject_prefix, origin, revoked_at)
                    VALUES (\(bind: subjectPrefix), \(bind: origin), clock_timestamp()) RETURNING id)
                SELECT pg_notify(\(bind: Self.channel), CAST(id AS TEXT)) FROM added
                """
            ).run()
            try await prune(database)
        } catch {
            if connection.isClosed { publisher.withLock { if $0 === connection { $0 = nil } } }
            throw NodeTable.TableError(description: "cluster_revocations: \(String(reflecting: error))")
        }
    }

    /// The id of the latest revocation published so far (0 for none): where a node starting now begins to
    /// follow, read before its relay takes any allocation.
    public func latestID() async throws -> Int64 {
        let connection = try await openPublisher()
        do {
            return try await connection.sql(queryLogLevel: nil).raw(
                "SELECT COALESCE(MAX(id), 0) AS last FROM cluster_revocations"
            ).first()?.decode(column: "last", as: Int64.self) ?? 0
        } catch {
            if connection.isClosed { publisher.withLock { if $0 === connection { $0 = nil } } }
            throw NodeTable.TableError(description: "cluster_revocations: \(String(reflecting: error))")
        }
    }

    /// Delivers every revocation published after `start` (after the latest one at the first connection when
    /// nil), in order, until the task is cancelled; connects again a second after the connection drops, and
    /// catches up on what was published meanwhile.
    public func follow(after start: Int64?, _ deliver: @escaping @Sendable ([Revocation]) async -> Void) async {
        var lastSeen = start
        var failing = false
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, id: 4, logger: logger)
                do {
                    let database = connection.sql(queryLogLevel: nil)
                    try await ClusterSchema.create(database)
                    if lastSeen == nil {
                        // A node that starts now holds no allocation of an earlier revocation.
                        lastSeen = try await database.raw(
                            "SELECT COALESCE(MAX(id), 0) AS last FROM cluster_revocations"
                        ).first()?.decode(column: "last", as: Int64.self)
                    }
                    if failing { logger.notice("following revocations again") }
                    failing = false
                    try await connection.listen(on: Self.channel) { notifications in
                        // Listening first, then catching up: nothing published in between is missed.
                        lastSeen = try await catchUp(database, after: lastSeen ?? 0, deliver)
                        for try await _ in notifications {
                            lastSeen = try await catchUp(database, after: lastSeen ?? 0, deliver)
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch is CancellationError {
                return
            } catch {
                if !failing {
                    logger.warning("following revocations failed; retrying", metadata: ["error": "\(error)"])
                }
                failing = true
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Closes the publishing connection.
    public func close() async {
        let current = publisher.withLock { connection -> PostgresConnection? in
            defer { connection = nil }
            return connection
        }
        try? await current?.close()
    }

    /// Delivers the rows after `last`; returns the last id delivered.
    private func catchUp(
        _ database: any SQLDatabase, after last: Int64, _ deliver: @Sendable ([Revocation]) async -> Void
    ) async throws -> Int64 {
        let rows = try await database.raw(
            """
            SELECT id, subject_prefix, origin,
                CAST(EXTRACT(EPOCH FROM (clock_timestamp() - revoked_at)) * 1000000 AS BIGINT) AS age_us
            FROM cluster_revocations WHERE id > \(bind: last) ORDER BY id
            """
        ).all()
        let revocations = try rows.map { row in
            Revocation(
                id: try row.decode(column: "id", as: Int64.self),
                subjectPrefix: try row.decode(column: "subject_prefix", as: String.self),
                origin: try row.decode(column: "origin", as: String.self),
                ageMicroseconds: try row.decode(column: "age_us", as: Int64.self))
        }
        guard let newest = revocations.last?.id else { return last }
        await deliver(revocations)
        return newest
    }

    /// Deletes rows past their retention, at most once a minute.
    private func prune(_ database: any SQLDatabase) async throws {
        let now = ContinuousClock.now
        let due = nextPrune.withLock { next -> Bool in
            guard now >= next else { return false }
            next = now + .seconds(60)
            return true
        }
        guard due else { return }
        try await database.raw(
            "DELETE FROM cluster_revocations WHERE revoked_at < now() - CAST(\(bind: Self.retention) AS INTERVAL)"
        ).run()
    }

    private func openPublisher() async throws -> PostgresConnection {
        if let current = publisher.withLock({ $0 }), !current.isClosed { return current }
        let fresh: PostgresConnection
        do {
            fresh = try await PostgresConnection.connect(
                configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, id: 3, logger: logger)
            try await ClusterSchema.create(fresh.sql(queryLogLevel: nil))
        } catch {
            throw NodeTable.TableError(description: "cannot open cluster_revocations: \(String(reflecting: error))")
        }
        let previous = publisher.withLock { connection -> PostgresConnection? in
            defer { connection = fresh }
            return connection
        }
        try? await previous?.close()
        return fresh
    }
}
