import Coordinator
import Crypto
import Foundation
import Testing

/// A managed account's level follows its controller's validation.
@Suite("Managed accounts follow their controller")
struct ManagedLevelTests {
    static let now = RegistryTests.now
    static let year = RegistryTests.year

    /// A started party where `controller` is validated for `controllerValidity` seconds and `managed` for a
    /// year, and `controller` manages `managed`.
    static func declared(controllerValidity: Int64) throws -> (
        CoordinatorState, controller: String, managed: String, others: [String]
    ) {
        var (state, ids, signers) = try RegistryTests.startedParty(6)
        let (controller, managed) = (ids[0], ids[1])
        _ = try state.recordOutcome(
            party: "p", account: controller, outcome: .validated, validity: controllerValidity, now: now)
        _ = try state.recordOutcome(party: "p", account: managed, outcome: .validated, validity: year, now: now)
        let consent = try signers[managed]!.signature(
            for: ManagedLink.consentText(controller: controller, managed: managed, consentedAt: now))
        _ = try state.declareManaged(
            controller: controller, managed: managed, consent: Array(consent), consentedAt: now, limit: 10, now: now)
        #expect(state.level(of: managed, now: now) == .managed)
        return (state, controller, managed, Array(ids.dropFirst(2)))
    }

    @Test(
        "a controller's revoked validation makes its managed accounts unregistered; releasing them makes them independent"
    )
    func revoked() throws {
        var (state, controller, managed, _) = try Self.declared(controllerValidity: Self.year)
        _ = try state.fileChallenge(
            id: "c", against: controller, filedBy: managed, reason: "one hand", now: Self.now + 1)
        let changes = try state.resolveChallenge(id: "c", upheld: true, resolution: "upheld", now: Self.now + 2)
        #expect(state.level(of: controller, now: Self.now + 3) == .unregistered)
        #expect(state.level(of: managed, now: Self.now + 3) == .unregistered)
        let lapsed = RegistryEvent(account: managed, kind: .controllerLapsed, at: Self.now + 2, subject: controller)
        #expect(state.registry.history[managed]?.last == lapsed)
        #expect(changes.contains { if case .registryEvent(lapsed, _) = $0 { true } else { false } })
        _ = try state.withdrawManaged(controller: controller, managed: managed, by: managed, now: Self.now + 4)
        #expect(state.level(of: managed, now: Self.now + 5) == .independent)
    }

    @Test("a controller's expiry lapses its managed accounts at the same moment; a new validation brings them back")
    func expiredAndValidatedAgain() throws {
        var (state, controller, managed, others) = try Self.declared(controllerValidity: 1_000)
        #expect(state.level(of: managed, now: Self.now + 999) == .managed)
        #expect(state.level(of: managed, now: Self.now + 1_000) == .unregistered)
        let expiries = state.recordExpiries(now: Self.now + 1_060)
        #expect(expiries.count == 2)
        #expect(
            state.registry.history[managed]?.last
                == RegistryEvent(account: managed, kind: .controllerLapsed, at: Self.now + 1_000, subject: controller))
        // The controller is validated again at another party.
        let later = Self.now + 2_000
        _ = state.createParty(
            id: "q",
            draft: PartyDraft(
                name: "q", registrationOpensAt: later - 100, registrationClosesAt: later - 50, startsAt: later - 10,
                deposit: 0),
            seed: Array(repeating: 3, count: 32), now: later - 200)
        for (index, account) in ([controller] + others).enumerated() {
            _ = try state.register(
                account: account, party: "q", latitude: Double(index), longitude: 10, description: nil, now: later - 100
            )
        }
        _ = try state.startParty("q", now: later)
        _ = try state.recordOutcome(
            party: "q", account: controller, outcome: .validated, validity: Self.year, now: later)
        #expect(state.level(of: managed, now: later + 1) == .managed)
        #expect(
            state.registry.history[managed]?.last
                == RegistryEvent(account: managed, kind: .controllerValidated, at: later, subject: controller))
    }
}
