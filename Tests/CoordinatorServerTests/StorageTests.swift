import Coordinator
import CoordinatorStore
import Crypto
import Testing

@Suite("Coordinator storage (SQLite, and PostgreSQL when configured)")
struct StorageTests {
    /// Party "p" (deposit 40, a quarter slashed) with `count` registrants, started; every change appended to
    /// `changes`; the registrants' signing keys by account.
    static func startedParty(_ count: Int, changes: inout [CoordinatorChange]) throws -> (
        CoordinatorState, [String: P256.Signing.PrivateKey]
    ) {
        var state = CoordinatorState()
        var signers: [String: P256.Signing.PrivateKey] = [:]
        let draft = PartyDraft(
            name: "p", registrationOpensAt: Fixtures.now - 100, registrationClosesAt: Fixtures.now - 50,
            startsAt: Fixtures.now - 10, deposit: 40, slashPermille: 250)
        changes += state.createParty(id: "p", draft: draft, seed: Fixtures.seed(), now: Fixtures.now - 200)
        for index in 0..<count {
            let (key, signer) = Fixtures.account()
            signers[key.accountID] = signer
            changes += state.recordAccount(key, now: Fixtures.now - 100)
            changes += try state.credit(40, to: key.accountID)
            changes += try state.register(
                account: key.accountID, party: "p", latitude: Double(index) / 100, longitude: 0, description: nil,
                now: Fixtures.now - 100)
        }
        changes += try state.startParty("p", now: Fixtures.now)
        return (state, signers)
    }

    @Test("migrations run once; a reopened database keeps its schema version", arguments: TestDatabases.kinds)
    func migrations(kind: TestDatabases.Kind) async throws {
        let backend = try await TestDatabases.make(kind)
        let first = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        #expect(try await first.schemaVersion() == SQLCoordinatorStore.latestSchemaVersion)
        try await first.close()
        let second = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        #expect(try await second.schemaVersion() == SQLCoordinatorStore.latestSchemaVersion)
        try await second.close()
    }

    @Test("a second coordinator on an open database is refused", arguments: TestDatabases.kinds)
    func singleWriter(kind: TestDatabases.Kind) async throws {
        let backend = try await TestDatabases.make(kind)
        let first = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        await #expect(throws: (any Error).self) {
            let second = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
            try await second.close()
        }
        try await first.close()
        let reopened = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        try await reopened.close()
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

    @Test(
        "a started party, outcomes, validations, declarations and challenges survive a reopen",
        arguments: TestDatabases.kinds)
    func registryRoundTrip(kind: TestDatabases.Kind) async throws {
        let backend = try await TestDatabases.make(kind)
        var changes: [CoordinatorChange] = []
        var (state, signers) = try Self.startedParty(13, changes: &changes)
        let groups = try #require(state.parties["p"]?.groups)
        #expect(groups.map(\.members.count) == [7, 6])
        changes += try state.attachSession(party: "p", group: 0, session: "s0", tokens: ["a": "t1"])
        changes += try state.attachSession(party: "p", group: 0, session: "s0b", tokens: ["a": "t2"])
        let ids = groups.flatMap(\.members)
        for (index, id) in ids.enumerated() {
            changes += try state.recordOutcome(
                party: "p", account: id, outcome: index < 10 ? .validated : index == 10 ? .failed : .noShow,
                validity: 86_400, now: Fixtures.now + 1)
        }
        let consent = Array(
            try signers[ids[1]]!.signature(
                for: ManagedLink.consentText(controller: ids[0], managed: ids[1], consentedAt: Fixtures.now + 2)
            )
            .rawRepresentation)
        changes += try state.declareManaged(
            controller: ids[0], managed: ids[1], consent: consent, consentedAt: Fixtures.now + 2, limit: 10,
            now: Fixtures.now + 2)
        let second = Array(
            try signers[ids[2]]!.signature(
                for: ManagedLink.consentText(controller: ids[0], managed: ids[2], consentedAt: Fixtures.now + 2)
            )
            .rawRepresentation)
        changes += try state.declareManaged(
            controller: ids[0], managed: ids[2], consent: second, consentedAt: Fixtures.now + 2, limit: 10,
            now: Fixtures.now + 2)
        changes += try state.withdrawManaged(controller: ids[0], managed: ids[2], by: ids[0], now: Fixtures.now + 3)
        changes += try state.fileChallenge(
            id: "c1", against: ids[3], filedBy: ids[4], reason: "twins", now: Fixtures.now + 4)
        changes += try state.resolveChallenge(id: "c1", upheld: true, resolution: "confirmed", now: Fixtures.now + 5)

        let store = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        // Two batches, as the writer would commit them.
        try await store.apply(Array(changes.prefix(30)))
        try await store.apply(Array(changes.dropFirst(30)))
        let loaded = try await store.load()
        try await store.close()
        #expect(loaded.registry == state.registry)
        #expect(loaded.parties["p"]?.groups == state.parties["p"]?.groups)
        #expect(loaded.parties["p"]?.groups[0].tokens == ["a": "t2"])
        #expect(loaded.parties["p"]?.outcomes == state.parties["p"]?.outcomes)
        #expect(loaded.parties["p"]?.startedAt == Fixtures.now)
        #expect(loaded.ledger.entries == state.ledger.entries && loaded.ledger.isBalanced())
        #expect(loaded.level(of: ids[1], now: Fixtures.now + 6) == .managed)
        #expect(loaded.level(of: ids[3], now: Fixtures.now + 6) == .unregistered)
    }

    @Test("undersized groups, regroupings and votes survive a reopen", arguments: TestDatabases.kinds)
    func regroupingRoundTrip(kind: TestDatabases.Kind) async throws {
        let backend = try await TestDatabases.make(kind)
        var changes: [CoordinatorChange] = []
        var (state, _) = try Self.startedParty(12, changes: &changes)
        let groups = try #require(state.parties["p"]?.groups)
        changes += try state.attachSession(party: "p", group: 0, session: "s0", tokens: [:])
        changes += try state.recordVote(
            session: "s0", turn: 0, account: groups[0].members[1], vote: "approve", now: Fixtures.now)
        changes += try state.closeUndersizedGroup(
            party: "p", group: 0, present: Array(groups[0].members.prefix(2)), now: Fixtures.now + 1)
        changes += try state.closeUndersizedGroup(
            party: "p", group: 1, present: Array(groups[1].members.suffix(3)), now: Fixtures.now + 1)
        changes += state.regroup(party: "p", minimum: 4, now: Fixtures.now + 2)
        let regrouped = try #require(state.parties["p"]?.groups.last)
        changes += try state.attachSession(party: "p", group: regrouped.index, session: "s2", tokens: [:])
        changes += try state.recordVote(
            session: "s2", turn: 1, account: regrouped.members[0], vote: "deny", now: Fixtures.now + 3)
        // The new group is undersized too: two of its five wait again.
        changes += try state.closeUndersizedGroup(
            party: "p", group: regrouped.index, present: Array(regrouped.members.prefix(2)), now: Fixtures.now + 4)

        let store = try await SQLCoordinatorStore.open(backend, logger: TestDatabases.logger)
        try await store.apply(Array(changes.prefix(40)))
        try await store.apply(Array(changes.dropFirst(40)))
        let loaded = try await store.load()
        let votes = try await store.votes(party: "p")
        try await store.close()
        let book = try #require(loaded.parties["p"])
        #expect(book.groups == state.parties["p"]?.groups && book.groups.count == 3)
        #expect(book.assignedGroups == 2 && book.groupEvents == 4 && book.placed == 12)
        #expect(book.waiting == Set(regrouped.members.prefix(2)) && book.waiting == state.parties["p"]?.waiting)
        #expect(book.outcomes == state.parties["p"]?.outcomes && book.outcomes.count == 10)
        #expect(loaded.sessions == state.sessions)
        #expect(loaded.ledger.isBalanced())
        #expect(votes.map(\.session) == ["s0", "s2"] && votes.map(\.vote) == ["approve", "deny"])
        #expect(votes.last?.account == regrouped.members[0] && votes.last?.group == regrouped.index)
    }
}
