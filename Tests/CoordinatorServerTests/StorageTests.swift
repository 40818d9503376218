import Coordinator
import CoordinatorStore
import Testing

@Suite("Coordinator storage (SQLite, and PostgreSQL when configured)")
struct StorageTests {
    @Test("migrations run once; a reopened database keeps its schema version", arguments: TestDatabases.kinds)
    func migrations(kind: TestDatabases.Kind) async throws {
        let backend = try await TestDatabases.make(kind)
        let first = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        #expect(try await first.schemaVersion() == 1)
        try await first.close()
        let second = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        #expect(try await second.schemaVersion() == 1)
        try await second.close()
    }

    @Test("every kind of change survives a reopen exactly", arguments: TestDatabases.kinds)
    func roundTrip(kind: TestDatabases.Kind) async throws {
        let backend = try await TestDatabases.make(kind)
        var state = CoordinatorState()
        var changes: [CoordinatorChange] = []
        let alice = Fixtures.account().key
        let bob = Fixtures.account().key
        changes += state.recordAccount(alice, now: Fixtures.now)
        changes += state.recordAccount(bob, now: Fixtures.now)
        changes += try state.credit(1_000, to: alice.accountID)
        changes += try state.credit(500, to: bob.accountID)
        changes += state.createParty(
            id: "p1", draft: Fixtures.draft(deposit: 300), seed: Fixtures.seed(), now: Fixtures.now)
        changes += try state.register(
            account: alice.accountID, party: "p1", latitude: 52.52, longitude: 13.405, description: "by the tower",
            now: Fixtures.now)
        changes += try state.register(
            account: bob.accountID, party: "p1", latitude: 52.53, longitude: 13.405, description: nil, now: Fixtures.now
        )
        changes += try state.deregister(account: bob.accountID, party: "p1", now: Fixtures.now)
        // Registered again in the same batch: the delete must land between the two inserts.
        changes += try state.register(
            account: bob.accountID, party: "p1", latitude: 52.54, longitude: 13.405, description: nil, now: Fixtures.now
        )
        changes += try state.withdraw(100, from: alice.accountID)

        let store = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        try await store.apply(changes)
        try await store.close()
        let reopened = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        let loaded = try await reopened.load()
        try await reopened.close()

        #expect(loaded.accounts == state.accounts)
        #expect(loaded.parties["p1"]?.party == state.parties["p1"]?.party)
        #expect(loaded.parties["p1"]?.registrations == state.parties["p1"]?.registrations)
        #expect(loaded.parties["p1"]?.registrations[bob.accountID]?.location.latitude == 52.54)
        #expect(loaded.ledger.entries == state.ledger.entries)
        #expect(loaded.ledger.isBalanced())
        #expect(loaded.ledger.balance(.wallet(alice.accountID)) == 600)
        #expect(loaded.ledger.balance(.locked(holder: bob.accountID, party: "p1")) == 300)
        #expect(
            loaded.revealedSeed(of: "p1", now: Fixtures.now + 7200)
                == state.revealedSeed(of: "p1", now: Fixtures.now + 7200))
        // The loaded spacing grid is live: a spot next to Alice's is taken.
        var mutable = loaded
        _ = mutable.recordAccount(Fixtures.account().key, now: Fixtures.now)
        let carol = mutable.accounts.keys.first { $0 != alice.accountID && $0 != bob.accountID }!
        #expect(throws: RegistrationError.locationTaken) {
            try mutable.register(
                account: carol, party: "p1", latitude: 52.5201, longitude: 13.405, description: nil, now: Fixtures.now)
        }
    }
}
