import Coordinator
import CoordinatorServer
import CoordinatorStore
import Foundation
import Logging
import Testing

/// The coordinator lock on PostgreSQL as the nodes of a cluster use it: one holder, standbys that wait for
/// it, shared connections that only read, and a coordinator that takes over the stored state.
@Suite("Standing by for the coordinator on PostgreSQL", .enabled(if: TestDatabases.postgresURL != nil))
struct StandbyTests {
    static let logger = Logger(label: "partyline.test.standby")

    /// A party created in `state`: its changes.
    static func party(_ id: String, in state: inout CoordinatorState) -> [CoordinatorChange] {
        state.createParty(id: id, draft: Fixtures.draft(), seed: Fixtures.seed(), now: Fixtures.now)
    }

    @Test("a second exclusive opener is refused; a standby gets the lock once the holder closes")
    func standbyWaits() async throws {
        let database = try await TestDatabases.make(.postgres)
        let holder = try await SQLCoordinatorStore.open(database, logger: Self.logger)
        await #expect(throws: SQLCoordinatorStore.HeldElsewhere.self) {
            try await SQLCoordinatorStore.open(database, logger: Self.logger)
        }
        let standby = Task {
            try await SQLCoordinatorStore.open(database, logger: Self.logger, access: .standby(poll: .milliseconds(20)))
        }
        try await Task.sleep(for: .milliseconds(200))
        try await holder.close()
        let successor = try await standby.value
        await #expect(throws: SQLCoordinatorStore.HeldElsewhere.self) {
            try await SQLCoordinatorStore.open(database, logger: Self.logger)
        }
        try await successor.close()
    }

    @Test("a cancelled standby stops waiting and lets go of its connection")
    func cancelledStandby() async throws {
        let database = try await TestDatabases.make(.postgres)
        let holder = try await SQLCoordinatorStore.open(database, logger: Self.logger)
        let standby = Task {
            try await SQLCoordinatorStore.open(database, logger: Self.logger, access: .standby(poll: .milliseconds(20)))
        }
        try await Task.sleep(for: .milliseconds(100))
        standby.cancel()
        await #expect(throws: CancellationError.self) { try await standby.value }
        try await holder.close()
        // The lock is free for the next opener: the cancelled standby took nothing with it.
        try await SQLCoordinatorStore.open(database, logger: Self.logger).close()
    }

    @Test("a shared connection reads and shares secrets beside the holder, and refuses to write changes")
    func sharedAccess() async throws {
        let database = try await TestDatabases.make(.postgres)
        let holder = try await SQLCoordinatorStore.open(database, logger: Self.logger)
        let shared = try await SQLCoordinatorStore.open(database, logger: Self.logger, access: .shared)
        let first = try await shared.secret(named: "cluster/test", candidate: "one")
        #expect(first == "one")
        #expect(try await holder.secret(named: "cluster/test", candidate: "two") == "one")
        var state = CoordinatorState()
        let changes = Self.party("p1", in: &state)
        await #expect(throws: SQLCoordinatorStore.StoreError.self) { try await shared.apply(changes) }
        try await holder.apply(changes)
        #expect(try await shared.load().parties["p1"] != nil)
        try await shared.close()
        try await holder.close()
    }

    @Test("a standing-by coordinator refuses operations, takes over the stored state, and steps down again")
    func takeOver() async throws {
        let database = try await TestDatabases.make(.postgres)
        let first = try await SQLCoordinatorStore.open(database, logger: Self.logger)
        let holder = try await LiveCoordinator(store: first, logger: Self.logger)
        let writer = Task { try await holder.run() }
        try await holder.perform { state in (Self.party("kept", in: &state), ()) }

        let standby = LiveCoordinator.standby(logger: Self.logger)
        let standbyWriter = Task { try await standby.run() }
        #expect(!standby.isHolding && !standby.hasFailed)
        await #expect(throws: LiveCoordinator.StorageUnavailable.self) {
            try await standby.perform { state in (Self.party("refused", in: &state), ()) }
        }
        let claim = Task {
            try await SQLCoordinatorStore.open(database, logger: Self.logger, access: .standby(poll: .milliseconds(20)))
        }
        holder.shutdown()
        try await writer.value
        try await standby.takeOver(try await claim.value)
        #expect(standby.isHolding)
        #expect(standby.read { $0.parties["kept"] != nil })
        try await standby.perform { state in (Self.party("after", in: &state), ()) }

        await standby.stepDown()
        #expect(!standby.isHolding && standby.read { $0.parties.isEmpty })
        // Stepping down closed the connection: the lock is free, and what was acknowledged is stored.
        let next = try await SQLCoordinatorStore.open(database, logger: Self.logger)
        #expect(try await next.load().parties.keys.sorted() == ["after", "kept"])
        try await next.close()
        standby.shutdown()
        try await standbyWriter.value
    }
}
