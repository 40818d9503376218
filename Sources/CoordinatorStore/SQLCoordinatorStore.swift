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
/// changes is one transaction.
public final class SQLCoordinatorStore: Sendable {
    /// Which database a store talks to.
    public enum Backend: Sendable, Hashable {
        case sqlite(path: String)
        case postgres(url: String)
    }

    /// Why the store failed; the underlying driver error is kept in the message.
    public struct StoreError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    private let database: any SQLDatabase
    private let closeConnection: @Sendable () async throws -> Void
    private let beginStatement: String
    private let closed = Atomic<Bool>(false)

    private init(database: any SQLDatabase, begin: String, close: @escaping @Sendable () async throws -> Void) {
        self.database = database
        beginStatement = begin
        closeConnection = close
    }

    /// Opens the database and runs the migrations it lacks.
    public static func open(_ backend: Backend, logger: Logger) async throws -> SQLCoordinatorStore {
        let store: SQLCoordinatorStore
        switch backend {
        case .sqlite(let path):
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            let database = connection.sql(queryLogLevel: nil)
            // WAL with synchronous=FULL: a commit is on disk when it returns, and readers never block the writer.
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"] {
                try await database.raw(SQLQueryString(pragma)).run()
            }
            store = SQLCoordinatorStore(database: database, begin: "BEGIN IMMEDIATE") { try await connection.close() }
        case .postgres(let url):
            let configuration = try SQLPostgresConfiguration(url: url)
            let connection = try await PostgresConnection.connect(
                configuration: configuration.coreConfiguration, id: 1, logger: logger)
            store = SQLCoordinatorStore(database: connection.sql(queryLogLevel: nil), begin: "BEGIN") {
                try await connection.close()
            }
        }
        try await store.migrate()
        return store
    }

    /// Closes the connection; later calls do nothing.
    public func close() async throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        try await closeConnection()
    }

    /// The schema version after migrating.
    public func schemaVersion() async throws -> Int {
        let row = try await database.raw("SELECT MAX(version) AS version FROM schema_migrations").first()
        return try row?.decode(column: "version", as: Int?.self) ?? 0
    }

    private func migrate() async throws {
        try await database.raw(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
        ).run()
        let applied = try await schemaVersion()
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
        try await transaction { database in
            var rows = ChangeRows()
            for change in changes {
                // Deletions must follow the inserts before them (a registration made and withdrawn in one batch).
                if case .deregistered = change { try await rows.flush(to: database) }
                rows.add(change)
                if case .deregistered(let party, let account) = change {
                    try await database.delete(from: "registrations").where("party", .equal, party)
                        .where("account", .equal, account).run()
                }
            }
            try await rows.flush(to: database)
        }
    }

    /// The coordinator's state as the stored rows describe it.
    public func load() async throws -> CoordinatorState {
        let accounts = try await database.raw("SELECT id, algorithm, public_key, created_at FROM accounts").all()
            .map { row in
                AccountRecord(
                    id: try row.decode(column: "id", as: String.self),
                    algorithm: try KeyAlgorithm(rawValue: row.decode(column: "algorithm", as: String.self))
                        .unwrap("algorithm"),
                    publicKey: try Hex.decode(row.decode(column: "public_key", as: String.self)).unwrap("public key"),
                    createdAt: try row.decode(column: "created_at", as: Int64.self))
            }
        let parties = try await database.raw("SELECT * FROM parties").all().map(Self.party(from:))
        let registrations = try await database.raw("SELECT * FROM registrations").all().map(Self.registration(from:))
        let entries = try await loadLedger()
        return try CoordinatorState(
            accounts: accounts, parties: parties, registrations: registrations, ledgerEntries: entries)
    }

    private func loadLedger() async throws -> [DepositBook.Entry] {
        let memos = try await database.raw("SELECT entry_index, memo FROM ledger_entries ORDER BY entry_index").all()
        let postings = try await database.raw(
            "SELECT entry_index, account_kind, holder, party, amount FROM ledger_postings ORDER BY entry_index, position"
        ).all()
        var byEntry: [Int64: [DepositBook.Posting]] = [:]
        for row in postings {
            let index = try row.decode(column: "entry_index", as: Int64.self)
            let account = try LedgerAccountColumns.account(
                kind: row.decode(column: "account_kind", as: String.self),
                holder: row.decode(column: "holder", as: String?.self),
                party: row.decode(column: "party", as: String?.self))
            byEntry[index, default: []].append(
                DepositBook.Posting(account: account, amount: try row.decode(column: "amount", as: Int64.self)))
        }
        return try memos.map { row in
            let index = try row.decode(column: "entry_index", as: Int64.self)
            return DepositBook.Entry(
                index: Int(index), memo: try row.decode(column: "memo", as: String.self), postings: byEntry[index] ?? []
            )
        }
    }

    private static func party(from row: any SQLRow) throws -> (Party, seed: [UInt8]) {
        let draft = PartyDraft(
            name: try row.decode(column: "name", as: String.self),
            timeZone: try row.decode(column: "time_zone", as: String.self),
            registrationOpensAt: try row.decode(column: "registration_opens_at", as: Int64.self),
            registrationClosesAt: try row.decode(column: "registration_closes_at", as: Int64.self),
            startsAt: try row.decode(column: "starts_at", as: Int64.self),
            duration: try row.decode(column: "duration", as: Int64.self),
            groupSize: try row.decode(column: "group_size", as: Int.self),
            minimumDistance: try row.decode(column: "minimum_distance", as: Double.self),
            deposit: try row.decode(column: "deposit", as: Int64.self),
            slashPermille: try row.decode(column: "slash_permille", as: Int.self))
        let party = Party(
            id: try row.decode(column: "id", as: String.self), draft: draft,
            seedCommitment: try row.decode(column: "seed_commitment", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
        return (party, try Hex.decode(row.decode(column: "seed", as: String.self)).unwrap("seed"))
    }

    private static func registration(from row: any SQLRow) throws -> Registration {
        Registration(
            party: try row.decode(column: "party", as: String.self),
            account: try row.decode(column: "account", as: String.self),
            location: try GeoPoint(
                latitude: row.decode(column: "latitude", as: Double.self),
                longitude: row.decode(column: "longitude", as: Double.self)
            ).unwrap("location"),
            description: try row.decode(column: "description", as: String?.self),
            registeredAt: try row.decode(column: "registered_at", as: Int64.self))
    }
}

extension Optional {
    /// The value, or a `StoreError` naming the stored column that could not be read back.
    func unwrap(_ what: String) throws -> Wrapped {
        guard let self else { throw SQLCoordinatorStore.StoreError(description: "stored \(what) is unreadable") }
        return self
    }
}
