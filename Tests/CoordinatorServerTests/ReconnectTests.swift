import Coordinator
import CoordinatorServer
import CoordinatorStore
import Logging
import PostgresKit
import Testing

@Suite("A lost PostgreSQL connection", .enabled(if: TestDatabases.postgresURL != nil))
struct ReconnectTests {
    @Test("is opened again: the batch that failed is refused and forgotten, the next one commits")
    func reconnects() async throws {
        let backend = try await TestDatabases.make(.postgres)
        guard case .postgres(let url) = backend else { return }
        var logger = Logger(label: "test.reconnect")
        logger.logLevel = .critical
        let coordinator = try await LiveCoordinator(
            store: try await SQLCoordinatorStore.open(backend, logger: logger), logger: logger)
        let writer = Task { try await coordinator.run() }
        let (alice, bob, carol) = (Fixtures.account().key, Fixtures.account().key, Fixtures.account().key)
        try await coordinator.perform { ($0.recordAccount(alice, now: Fixtures.now), ()) }

        // The server ends the coordinator's session, as a PostgreSQL restart would.
        let admin = try await PostgresConnection.connect(
            configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, id: 2, logger: logger)
        let terminated = try await admin.sql().raw(
            """
            SELECT COUNT(pg_terminate_backend(pid)) AS count FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """
        ).first()?.decode(column: "count", as: Int.self)
        #expect(terminated == 1)
        try await admin.close()

        await #expect(throws: LiveCoordinator.StorageUnavailable.self) {
            try await coordinator.perform { ($0.recordAccount(bob, now: Fixtures.now), ()) }
        }
        try await coordinator.perform { ($0.recordAccount(carol, now: Fixtures.now), ()) }
        let known = coordinator.read { Set($0.accounts.keys) }
        #expect(known == [alice.accountID, carol.accountID], "the refused change is gone from memory too")
        coordinator.shutdown()
        try await writer.value

        let reopened = try await SQLCoordinatorStore.open(backend, logger: logger)
        let stored = try await reopened.load()
        try await reopened.close()
        #expect(Set(stored.accounts.keys) == known)
    }
}
