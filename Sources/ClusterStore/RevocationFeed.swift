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
    /// How long a revocation is kept for followers that were away, and replayed to a node that starts:
    /// longer than a turn's TURN credentials live.
    static let retention = "1 day"
    /// Serializes publications, so ids commit in order ("PLREVOK1" as bytes).
    static let publishLock: Int64 = 0x504C_5245_564F_4B31
    /// How often a follower reads the table without a notification: a listening connection that died
    /// silently is found out, and anything missed read.
    static let sweep = Duration.seconds(5)

    private let url: String
    private let logger: Logger
    private let publisher: ClusterConnection
    private let nextPrune = Mutex<ContinuousClock.Instant>(.now)

    public init(url: String, logger: Logger) {
        self.url = url
        self.logger = logger
        publisher = ClusterConnection(url: url, id: 3, logger: logger)
    }

    /// Records the revocation and notifies every follower, in one statement; throws when the database does
    /// not answer within ``publishLimit`` (the connection is then closed and opened again next time).
    public func publish(subjectPrefix: String, origin: String) async throws {
        let connection = try await KeepAlive.within(Self.publishLimit) { try await self.publisher.open() }
        do {
            try await KeepAlive.within(Self.publishLimit) {
                try await self.insert(subjectPrefix: subjectPrefix, origin: origin, on: connection)
            }
        } catch {
            if error is KeepAlive.TimedOut { try? await connection.close() }
            publisher.forget(connection)
            throw NodeTable.TableError(description: "cluster_revocations: \(String(reflecting: error))")
        }
    }

    /// Longest a publication may take.
    static let publishLimit = Duration.seconds(5)

    private func insert(subjectPrefix: String, origin: String, on connection: PostgresConnection) async throws {
        let database = connection.sql(queryLogLevel: nil)
        // One statement, one transaction: the lock is taken before the id is drawn and held until the
        // commit, so revocations commit in the order of their ids and a follower reading `id > last` cannot
        // pass over one that commits late.
        try await database.raw(
            """
            WITH locked AS (SELECT pg_advisory_xact_lock(\(bind: Self.publishLock)) AS taken),
            added AS (
                INSERT INTO cluster_revocations (subject_prefix, origin, revoked_at)
                SELECT \(bind: subjectPrefix), \(bind: origin), clock_timestamp() FROM locked RETURNING id)
            SELECT pg_notify(\(bind: Self.channel), CAST(id AS TEXT)) FROM added
            """
        ).run()
        try await prune(database)
    }

    /// Delivers every revocation kept (the last day's: a relay that starts refuses credentials revoked before
    /// it started) and then every one published, in order, until the task is cancelled. It connects again a
    /// second after the connection drops, and catches up on what was published meanwhile.
    public func follow(_ deliver: @escaping @Sendable ([Revocation]) async -> Void) async {
        var lastSeen: Int64 = 0
        var failing = false
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, id: 4, logger: logger)
                if failing { logger.notice("following revocations again") }
                failing = false
                do {
                    try await follow(on: connection, after: &lastSeen, deliver)
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

    /// Follows on one connection until it drops: listens, then reads what is new at once, on every
    /// notification and at every sweep; `lastSeen` advances with each delivery. The first read (the day's
    /// replay after a start) may take its time; later ones that do not answer within a sweep end the
    /// connection.
    private func follow(
        on connection: PostgresConnection, after lastSeen: inout Int64,
        _ deliver: @Sendable ([Revocation]) async -> Void
    ) async throws {
        let database = connection.sql(queryLogLevel: nil)
        try await ClusterSchema.create(database)
        try await KeepAlive.set(on: database)
        try await connection.listen(on: Self.channel) { notifications in
            // Listening first, then reading: nothing published in between is missed.
            var first = true
            for await _ in Self.wakes(notifications, every: Self.sweep) {
                let after = lastSeen
                let read = { @Sendable in try await self.read(database, after: after) }
                let published = first ? try await read() : try await KeepAlive.within(Self.sweep, read)
                first = false
                if let last = published.last?.id {
                    await deliver(published)
                    lastSeen = last
                }
            }
        }
    }

    /// Yields at once, then on each notification and every `interval` (so a dead connection is found out
    /// even when nothing is published); ends when the notifications do.
    private static func wakes(
        _ notifications: PostgresNotificationSequence, every interval: Duration
    ) -> AsyncStream<Void> {
        AsyncStream { continuation in
            continuation.yield()
            let listening = Task {
                for try await _ in notifications { continuation.yield() }
                continuation.finish()
            }
            let ticking = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    continuation.yield()
                }
            }
            continuation.onTermination = { _ in
                listening.cancel()
                ticking.cancel()
            }
        }
    }

    /// Closes the publishing connection.
    public func close() async { await publisher.close() }

    /// The revocations after `last`, in order.
    private func read(_ database: any SQLDatabase, after last: Int64) async throws -> [Revocation] {
        let rows = try await database.raw(
            """
            SELECT id, subject_prefix, origin,
                CAST(EXTRACT(EPOCH FROM (clock_timestamp() - revoked_at)) * 1000000 AS BIGINT) AS age_us
            FROM cluster_revocations WHERE id > \(bind: last) ORDER BY id
            """
        ).all()
        return try rows.map { row in
            Revocation(
                id: try row.decode(column: "id", as: Int64.self),
                subjectPrefix: try row.decode(column: "subject_prefix", as: String.self),
                origin: try row.decode(column: "origin", as: String.self),
                ageMicroseconds: try row.decode(column: "age_us", as: Int64.self))
        }
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
}
