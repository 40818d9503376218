import Coordinator
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit
import Signalling
import Synchronization

/// The coordinator's rows in SQL, written once with SQLKit for SQLite (the embedded default: WAL, durable
/// commits) and PostgreSQL. One connection: the coordinator is the single writer, and each batch of
/// changes is one transaction. On PostgreSQL the writer holds a session-level advisory lock for as long as
/// it is connected (``Access``): the nodes of a cluster elect their one coordinator with it.
public final class SQLCoordinatorStore: CoordinatorStorage {
    /// Which database a store talks to.
    public enum Backend: Sendable, Hashable {
        case sqlite(path: String)
        case postgres(url: String)
    }

    /// Why the store failed; the underlying driver error is kept in the message.
    public struct StoreError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Another process holds the database's coordinator lock.
    public struct HeldElsewhere: Error, Sendable, CustomStringConvertible {
        public var description: String { "another coordinator holds this database" }
    }

    /// What a connection may do with the database, on PostgreSQL (SQLite's file lock is always exclusive).
    public enum Access: Sendable, Hashable {
        /// Takes the coordinator lock, or fails with ``HeldElsewhere``: the single-node default.
        case exclusive
        /// Waits for the coordinator lock, asking again every `poll`, until it is taken or the task is
        /// cancelled: a cluster node standing by.
        case standby(poll: Duration)
        /// No lock: reads and the shared secrets only; ``apply(_:)`` is refused.
        case shared
    }

    /// One open connection: the database on it, whether it has closed, how to close it.
    private struct Link: Sendable {
        let database: any SQLDatabase
        let isClosed: @Sendable () -> Bool
        let close: @Sendable () async throws -> Void
    }

    private let backend: Backend
    private let access: Access
    private let logger: Logger
    private let link: Mutex<Link>
    private let beginStatement: String
    private let closed = Atomic<Bool>(false)

    /// The current connection's database; an error once the connection has closed (a query on a closed
    /// PostgreSQL connection would wait for ever).
    private var database: any SQLDatabase {
        get throws {
            let current = link.withLock { $0 }
            guard !current.isClosed() else { throw StoreError(description: "the database connection is closed") }
            return current.database
        }
    }

    private init(backend: Backend, access: Access, logger: Logger, link: Link) {
        self.backend = backend
        self.access = access
        self.logger = logger
        self.link = Mutex(link)
        beginStatement =
            switch backend {
            case .sqlite: "BEGIN IMMEDIATE"
            case .postgres: "BEGIN"
            }
    }

    /// The PostgreSQL advisory lock key a coordinator holds on its database ("PLCOORD1" as bytes).
    static let advisoryLock: Int64 = 0x504C_434F_4F52_4431
    /// The lock that serializes migrations between nodes starting at once ("PLMIGRT1" as bytes).
    static let migrationLock: Int64 = 0x504C_4D49_4752_5431

    /// Opens the database and runs the migrations it lacks. A database has one coordinator at a time: with
    /// `.exclusive` access a second one fails here, with `.standby` it waits here.
    public static func open(
        _ backend: Backend, logger: Logger, access: Access = .exclusive
    ) async throws -> SQLCoordinatorStore {
        let link = try await connect(backend, access, logger)
        let store = SQLCoordinatorStore(backend: backend, access: access, logger: logger, link: link)
        do {
            try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    /// Connects and, unless the access is shared, takes the database for this coordinator alone.
    private static func connect(_ backend: Backend, _ access: Access, _ logger: Logger) async throws -> Link {
        switch backend {
        case .sqlite(let path):
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            let database = connection.sql(queryLogLevel: nil)
            // WAL with synchronous=FULL: a commit is on disk when it returns. The coordinator is the database's
            // single writer: exclusive locking, taken now by an empty write transaction, makes a second process
            // on the same file fail at start-up instead of diverging from this one's state.
            // The busy timeout comes first: a database another process holds is refused after 2 s rather
            // than after the driver's default wait.
            for pragma in [
                "PRAGMA busy_timeout=2000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                "PRAGMA foreign_keys=ON", "PRAGMA locking_mode=EXCLUSIVE", "BEGIN IMMEDIATE", "COMMIT",
            ] {
                do {
                    try await database.raw(SQLQueryString(pragma)).run()
                } catch {
                    try? await connection.close()
                    throw StoreError(description: "cannot take the database (\(pragma)): \(error)")
                }
            }
            return Link(
                database: database, isClosed: { connection.isClosed }, close: { try await connection.close() })
        case .postgres(let url):
            let configuration = try SQLPostgresConfiguration(url: url)
            let connection = try await PostgresConnection.connect(
                configuration: configuration.coreConfiguration, id: 1, logger: logger)
            let database = connection.sql(queryLogLevel: nil)
            do {
                // TCP keepalives on the server's side: the session of a client whose host crashed or whose
                // network was cut ends in about 25 s, and with it the coordinator lock it held.
                for setting in ["tcp_keepalives_idle = 10", "tcp_keepalives_interval = 5", "tcp_keepalives_count = 3"] {
                    try await database.raw(SQLQueryString("SET " + setting)).run()
                }
                try await takeCoordinatorLock(database, access)
            } catch {
                try? await connection.close()
                throw error
            }
            return Link(
                database: database, isClosed: { connection.isClosed },
                close: { try await releaseAndClose(connection, database) })
        }
    }

    /// Gives the coordinator lock back before closing, so whoever opens next finds it free at once rather
    /// than after the server has ended this session. An open connection that does not answer within a
    /// second is closed anyway, which also ends the unanswered query; a closed one holds no lock.
    private static func releaseAndClose(_ connection: PostgresConnection, _ database: any SQLDatabase) async throws {
        if !connection.isClosed {
            let (answered, answer) = AsyncStream<Void>.makeStream()
            Task {
                _ = try? await database.raw("SELECT pg_advisory_unlock_all()").run()
                answer.yield()
            }
            let timer = Task {
                try? await Task.sleep(for: .seconds(1))
                answer.yield()
            }
            for await _ in answered { break }
            timer.cancel()
        }
        try await connection.close()
    }

    /// One coordinator per database: a session-level advisory lock, held while connected (none for shared
    /// access). A standby asks again every poll until it is granted or the task is cancelled.
    private static func takeCoordinatorLock(_ database: any SQLDatabase, _ access: Access) async throws {
        let poll: Duration?
        switch access {
        case .shared: return
        case .exclusive: poll = nil
        case .standby(let interval): poll = interval
        }
        while true {
            let locked = try await database.raw("SELECT pg_try_advisory_lock(\(bind: Self.advisoryLock)) AS locked")
                .first()?.decode(column: "locked", as: Bool.self)
            if locked == true { return }
            guard let poll else { throw HeldElsewhere() }
            try await Task.sleep(for: poll)
        }
    }

    /// Connects again if the connection was lost (a PostgreSQL restart, a dropped link), taking the database
    /// for this coordinator again; nothing while it is up. The caller reloads its state afterwards.
    public func reconnectIfLost() async throws {
        let current = link.withLock { $0 }
        guard !closed.load(ordering: .relaxed), current.isClosed() else { return }
        logger.warning("database connection lost; connecting again")
        // The lock was released with the lost connection: take it again at once or fail, never wait for it
        // (another node may have taken over meanwhile).
        let fresh = try await Self.connect(backend, access == .shared ? .shared : .exclusive, logger)
        link.withLock { $0 = fresh }
        try? await current.close()
    }

    /// Closes the connection; later calls do nothing.
    public func close() async throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        try await link.withLock { $0 }.close()
    }

    /// Runs `SELECT 1`: throws unless the database answers.
    public func ping() async throws {
        try await database.raw("SELECT 1 AS one").run()
    }

    /// The schema version this build migrates to.
    public static var latestSchemaVersion: Int { Migrations.all.last?.version ?? 0 }

    /// The schema version after migrating.
    public func schemaVersion() async throws -> Int {
        let row = try await database.raw("SELECT MAX(version) AS version FROM schema_migrations").first()
        return try row?.decode(column: "version", as: Int?.self) ?? 0
    }

    /// Runs the migrations this database lacks; on PostgreSQL under the migration lock, since every node of
    /// a cluster (the coordinator and the ones with shared access) migrates at start.
    private func migrate() async throws {
        guard case .postgres = backend else { return try await migrateUnlocked() }
        let database = try self.database
        try await database.raw("SELECT pg_advisory_lock(\(bind: Self.migrationLock))").run()
        do {
            try await migrateUnlocked()
        } catch {
            try? await database.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLock))").run()
            throw error
        }
        try await database.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLock))").run()
    }

    private func migrateUnlocked() async throws {
        try await database.raw(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        ).run()
        let applied = try await schemaVersion()
        // A node of an older build must not run on (or take over) a schema a newer one migrated.
        guard applied <= Self.latestSchemaVersion else {
            throw StoreError(
                description: "the database's schema is version \(applied), newer than this build's "
                    + "(\(Self.latestSchemaVersion)): run a build at least as new")
        }
        for migration in Migrations.all where migration.version > applied {
            try await transaction { database in
                for statement in migration.statements { try await database.raw(SQLQueryString(statement)).run() }
                try await database.raw(
                    """
                    INSERT INTO schema_migrations (version, applied_at) \
                    VALUES (\(bind: migration.version), \(bind: Int64(Date().timeIntervalSince1970)))
                    """
                ).run()
            }
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    private func transaction(_ body: (any SQLDatabase) async throws -> Void) async throws {
        let database = try self.database
        try await database.raw(SQLQueryString(beginStatement)).run()
        do {
            try await body(database)
            try await database.raw("COMMIT").run()
        } catch {
            try? await database.raw("ROLLBACK").run()
            throw error
        }
    }
}

extension SQLCoordinatorStore {
    /// Makes `changes` durable, in order, in one transaction.
    public func apply(_ changes: [CoordinatorChange]) async throws {
        guard !changes.isEmpty else { return }
        guard access != .shared else {
            throw StoreError(description: "a shared connection does not hold the coordinator: nothing is written")
        }
        try await transaction { database in
            var rows = ChangeRows()
            for change in changes {
                switch change {
                // A deletion must follow the inserts before it (made and withdrawn in one batch).
                case .deregistered(let party, let account):
                    try await rows.flush(to: database)
                    try await database.delete(from: "registrations").where("party", .equal, party)
                        .where("account", .equal, account).run()
                case .linkWithdrawn(_, let managed):
                    try await rows.flush(to: database)
                    try await database.delete(from: "managed_links").where("managed", .equal, managed).run()
                default:
                    rows.add(change)
                }
            }
            try await rows.flush(to: database)
        }
    }

    /// The stored secret named `name`, storing `candidate` first if there is none (so it survives restarts).
    public func secret(named name: String, candidate: String) async throws -> String {
        try await database.insert(into: "server_keys").columns("name", "secret").values(name, candidate)
            .ignoringConflicts(with: "name").run()
        let row = try await database.raw("SELECT secret FROM server_keys WHERE name = \(bind: name)").first()
        return try row.unwrap("secret \(name)").decode(column: "secret", as: String.self)
    }

    /// Stores `value` as the secret named `name`, replacing any before.
    public func replaceSecret(named name: String, value: String) async throws {
        try await transaction { database in
            try await database.delete(from: "server_keys").where("name", .equal, name).run()
            try await database.insert(into: "server_keys").columns("name", "secret").values(name, value).run()
        }
    }

    /// Every vote recorded in `party`'s sessions (votes are read from storage, not held in memory).
    public func votes(party: String) async throws -> [CastVote] {
        try await StoredRows.votes(party: party, try database)
    }

    /// The coordinator's state as the stored rows describe it.
    public func load() async throws -> CoordinatorState {
        let database = try self.database
        let entries = try await StoredRows.ledgerEntries(database)
        let changes = try await StoredRows.changes(database)
        return try CoordinatorState(ledgerEntries: entries, replaying: changes)
    }
}

extension Optional {
    /// The value, or a `StoreError` naming the stored column that could not be read back.
    func unwrap(_ what: String) throws -> Wrapped {
        guard let self else { throw SQLCoordinatorStore.StoreError(description: "stored \(what) is unreadable") }
        return self
    }
}
