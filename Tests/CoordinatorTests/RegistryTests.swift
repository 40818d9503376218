import Coordinator
import Crypto
import Foundation
import Testing

@Suite("Personhood registry: validations, managed accounts, challenges")
struct RegistryTests {
    static let now: Int64 = 1_800_000_000
    static let year: Int64 = 365 * 86_400

    /// A party of `count` registrants that has started; the accounts' signing keys by id.
    static func startedParty(_ count: Int, slashPermille: Int = 500) throws -> (
        CoordinatorState, [String], [String: Curve25519.Signing.PrivateKey]
    ) {
        var state = CoordinatorState()
        var signers: [String: Curve25519.Signing.PrivateKey] = [:]
        let draft = PartyDraft(
            name: "p", registrationOpensAt: now - 100, registrationClosesAt: now - 50, startsAt: now - 10, deposit: 100,
            slashPermille: slashPermille)
        _ = state.createParty(id: "p", draft: draft, seed: Array(repeating: 9, count: 32), now: now - 200)
        for index in 0..<count {
            let signer = Curve25519.Signing.PrivateKey()
            let key = try AccountKey(algorithm: .ed25519, publicKey: signer.publicKey.rawRepresentation)
            signers[key.accountID] = signer
            _ = state.recordAccount(key, now: now - 100)
            _ = try state.credit(100, to: key.accountID)
            _ = try state.register(
                account: key.accountID, party: "p", latitude: Double(index), longitude: 0, description: nil,
                now: now - 100)
        }
        _ = try state.startParty("p", now: now)
        return (state, signers.keys.sorted(), signers)
    }

    @Test("outcomes: a validation releases the deposit, a failure or no-show slashes the party's fraction")
    func outcomes() throws {
        var (state, ids, _) = try Self.startedParty(6)
        #expect(state.parties["p"]?.groups.map(\.members.count) == [6])
        _ = try state.recordOutcome(
            party: "p", account: ids[0], outcome: .validated, validity: Self.year, now: Self.now)
        _ = try state.recordOutcome(party: "p", account: ids[1], outcome: .failed, validity: Self.year, now: Self.now)
        _ = try state.recordOutcome(party: "p", account: ids[2], outcome: .noShow, validity: Self.year, now: Self.now)
        #expect(state.ledger.balance(.wallet(ids[0])) == 100)
        #expect(state.ledger.balance(.wallet(ids[1])) == 50 && state.ledger.balance(.wallet(ids[2])) == 50)
        #expect(state.ledger.balance(.slashed(party: "p")) == 100 && state.ledger.isBalanced())
        #expect(state.level(of: ids[0], now: Self.now) == .independent)
        #expect(state.level(of: ids[0], now: Self.now + Self.year) == .unregistered)
        #expect(state.level(of: ids[1], now: Self.now) == .unregistered)
        #expect(throws: PartyError.alreadyDecided) {
            try state.recordOutcome(party: "p", account: ids[0], outcome: .failed, validity: Self.year, now: Self.now)
        }
        #expect(throws: PartyError.alreadyStarted) { try state.startParty("p", now: Self.now) }
        #expect(state.registry.history[ids[2]]?.map(\.kind) == [.noShow])
        #expect(state.recordExpiries(now: Self.now + Self.year - 1).isEmpty)
        #expect(state.recordExpiries(now: Self.now + Self.year).count == 1)
        #expect(state.recordExpiries(now: Self.now + 2 * Self.year).isEmpty, "an expiry is recorded once")
        #expect(state.registry.history[ids[0]]?.map(\.kind) == [.validated, .expired])
    }

    @Test("a party past its duration turns its undecided members into no-shows, once")
    func closing() throws {
        var (state, ids, _) = try Self.startedParty(6)
        _ = try state.recordOutcome(
            party: "p", account: ids[0], outcome: .validated, validity: Self.year, now: Self.now)
        #expect(try state.closeEndedParties(now: Self.now).isEmpty, "still running")
        let end = Self.now - 10 + 3600
        _ = try state.closeEndedParties(now: end)
        #expect(state.parties["p"]?.outcomes.values.filter { $0 == .noShow }.count == 5)
        #expect(state.parties["p"]?.outcomes[ids[0]] == .validated)
        #expect(try state.closeEndedParties(now: end + 1).isEmpty)
        #expect(state.ledger.isBalanced() && state.ledger.balance(.slashed(party: "p")) == 250)
    }

    @Test("declarations: co-signed, both validated, limit per controller, a managed account manages none")
    func declarations() throws {
        var (state, ids, signers) = try Self.startedParty(6)
        for id in ids.prefix(5) {
            _ = try state.recordOutcome(
                party: "p", account: id, outcome: .validated, validity: Self.year, now: Self.now)
        }
        func consent(_ controller: String, _ managed: String) throws -> [UInt8] {
            Array(
                try signers[managed]!.signature(
                    for: ManagedLink.consentText(controller: controller, managed: managed, consentedAt: Self.now)))
        }
        let (controller, a, b, c, unvalidated) = (ids[0], ids[1], ids[2], ids[3], ids[5])
        #expect(throws: RegistryError.invalidConsent) {
            try state.declareManaged(
                controller: controller, managed: a, consent: try consent(controller, b), consentedAt: Self.now,
                limit: 2, now: Self.now)
        }
        #expect(throws: RegistryError.notValidated) {
            try state.declareManaged(
                controller: controller, managed: unvalidated, consent: try consent(controller, unvalidated),
                consentedAt: Self.now, limit: 2,
                now: Self.now)
        }
        #expect(throws: RegistryError.sameAccount) {
            try state.declareManaged(
                controller: a, managed: a, consent: try consent(a, a), consentedAt: Self.now, limit: 2, now: Self.now)
        }
        _ = try state.declareManaged(
            controller: controller, managed: a, consent: try consent(controller, a), consentedAt: Self.now, limit: 2,
            now: Self.now)
        #expect(
            state.level(of: a, now: Self.now) == .managed && state.level(of: controller, now: Self.now) == .independent)
        #expect(throws: RegistryError.alreadyManaged) {
            try state.declareManaged(
                controller: b, managed: a, consent: try consent(b, a), consentedAt: Self.now, limit: 2, now: Self.now)
        }
        #expect(throws: RegistryError.controllerIsManaged) {
            try state.declareManaged(
                controller: a, managed: b, consent: try consent(a, b), consentedAt: Self.now, limit: 2, now: Self.now)
        }
        #expect(throws: RegistryError.managedAccountManages) {
            try state.declareManaged(
                controller: b, managed: controller, consent: try consent(b, controller), consentedAt: Self.now,
                limit: 2, now: Self.now)
        }
        _ = try state.declareManaged(
            controller: controller, managed: b, consent: try consent(controller, b), consentedAt: Self.now, limit: 2,
            now: Self.now)
        #expect(throws: RegistryError.controllerLimit) {
            try state.declareManaged(
                controller: controller, managed: c, consent: try consent(controller, c), consentedAt: Self.now,
                limit: 2, now: Self.now)
        }
        #expect(throws: RegistryError.notAParty) {
            try state.withdrawManaged(controller: controller, managed: a, by: c, now: Self.now)
        }
        _ = try state.withdrawManaged(controller: controller, managed: a, by: a, now: Self.now)
        #expect(state.level(of: a, now: Self.now) == .independent)
        #expect(state.registry.history[a]?.map(\.kind) == [.validated, .becameManaged, .released])
        // The withdrawn declaration cannot be revived with its old consent; a fresh one works.
        #expect(throws: RegistryError.staleConsent) {
            try state.declareManaged(
                controller: controller, managed: a, consent: try consent(controller, a), consentedAt: Self.now,
                limit: 3, now: Self.now + 1)
        }
        let fresh = Array(
            try signers[a]!.signature(
                for: ManagedLink.consentText(controller: controller, managed: a, consentedAt: Self.now + 1)))
        _ = try state.declareManaged(
            controller: controller, managed: a, consent: fresh, consentedAt: Self.now + 1, limit: 3, now: Self.now + 1)
        let old = Array(
            try signers[c]!.signature(
                for: ManagedLink.consentText(controller: controller, managed: c, consentedAt: Self.now - 301)))
        #expect(throws: RegistryError.staleConsent) {
            try state.declareManaged(
                controller: controller, managed: c, consent: old, consentedAt: Self.now - 301, limit: 3, now: Self.now)
        }
        #expect(state.families(of: ids) == [controller: controller, a: controller, b: controller])
    }

    @Test("an upheld challenge revokes the validation; a dismissed one changes no level; both stay in the history")
    func challenges() throws {
        var (state, ids, _) = try Self.startedParty(6)
        _ = try state.recordOutcome(
            party: "p", account: ids[0], outcome: .validated, validity: Self.year, now: Self.now)
        _ = try state.fileChallenge(id: "c1", against: ids[0], filedBy: ids[1], reason: "same phone", now: Self.now)
        #expect(throws: RegistryError.duplicateChallenge) {
            try state.fileChallenge(id: "c1b", against: ids[0], filedBy: ids[1], reason: "again", now: Self.now)
        }
        #expect(throws: RegistryError.duplicateChallenge) {
            try state.fileChallenge(id: "c1c", against: ids[1], filedBy: ids[1], reason: "myself", now: Self.now)
        }
        _ = try state.resolveChallenge(id: "c1", upheld: false, resolution: "no evidence", now: Self.now + 1)
        #expect(state.level(of: ids[0], now: Self.now + 2) == .independent)
        #expect(throws: RegistryError.challengeResolved) {
            try state.resolveChallenge(id: "c1", upheld: true, resolution: "", now: Self.now + 2)
        }
        _ = try state.fileChallenge(id: "c2", against: ids[0], filedBy: ids[1], reason: "same hand", now: Self.now + 3)
        _ = try state.resolveChallenge(id: "c2", upheld: true, resolution: "confirmed", now: Self.now + 4)
        #expect(state.level(of: ids[0], now: Self.now + 5) == .unregistered)
        #expect(
            state.registry.history[ids[0]]?.map(\.kind) == [
                .validated, .challengeFiled, .challengeDismissed, .challengeFiled, .challengeUpheld, .revoked,
            ])
        #expect(throws: RegistryError.invalidReason) {
            try state.fileChallenge(id: "c3", against: ids[0], filedBy: ids[1], reason: "", now: Self.now)
        }
    }
}
