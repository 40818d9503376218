import Coordinator
import Crypto
import Testing

@Suite("Registration rules")
struct RegistrationRulesTests {
    static let now: Int64 = 1_800_000_000

    /// A state with `count` known accounts, each credited `funds`, and party "p" open at `now`.
    static func state(accounts count: Int = 4, funds: Int64 = 1_000, deposit: Int64 = 250) throws -> (
        CoordinatorState, [String]
    ) {
        var state = CoordinatorState()
        var ids: [String] = []
        for _ in 0..<count {
            let key = try AccountKey(
                algorithm: .ed25519, publicKey: Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
            _ = state.recordAccount(key, now: now)
            if funds > 0 { _ = try state.credit(funds, to: key.accountID) }
            ids.append(key.accountID)
        }
        let draft = PartyDraft(
            name: "p", registrationOpensAt: now - 10, registrationClosesAt: now + 10, startsAt: now + 20,
            deposit: deposit)
        _ = state.createParty(id: "p", draft: try draft.validated(), seed: Array(repeating: 7, count: 32), now: now)
        return (state, ids)
    }

    @Test("a registration locks the deposit and reports the registration and the ledger entry")
    func registers() throws {
        var (state, ids) = try Self.state()
        let changes = try state.register(
            account: ids[0], party: "p", latitude: 48.8566, longitude: 2.3522, description: "Place", now: Self.now)
        #expect(changes.count == 2)
        #expect(state.ledger.balance(.locked(holder: ids[0], party: "p")) == 250)
        #expect(state.ledger.balance(.wallet(ids[0])) == 750)
        #expect(state.parties["p"]?.registrations[ids[0]]?.description == "Place")
    }

    @Test("each refusal has its code and changes nothing")
    func refusals() throws {
        var (state, ids) = try Self.state()
        _ = try state.register(account: ids[0], party: "p", latitude: 0, longitude: 0, description: nil, now: Self.now)
        let entries = state.ledger.entries
        let registrations = state.parties["p"]?.registrations

        func refused(_ expected: String, _ attempt: (inout CoordinatorState) throws -> Void) {
            var copy = state
            do {
                try attempt(&copy)
                Issue.record("expected \(expected)")
            } catch {
                #expect((error as? RegistrationError)?.code == expected)
            }
            #expect(copy.ledger.entries == entries)
            #expect(copy.parties["p"]?.registrations == registrations)
        }
        refused("party-not-found") {
            _ = try $0.register(account: ids[1], party: "q", latitude: 1, longitude: 1, description: nil, now: Self.now)
        }
        refused("registration-closed") {
            _ = try $0.register(
                account: ids[1], party: "p", latitude: 1, longitude: 1, description: nil, now: Self.now + 10)
        }
        refused("registration-closed") {
            _ = try $0.register(
                account: ids[1], party: "p", latitude: 1, longitude: 1, description: nil, now: Self.now - 11)
        }
        refused("account-not-found") {
            _ = try $0.register(
                account: "nobody", party: "p", latitude: 1, longitude: 1, description: nil, now: Self.now)
        }
        refused("already-registered") {
            _ = try $0.register(account: ids[0], party: "p", latitude: 1, longitude: 1, description: nil, now: Self.now)
        }
        refused("invalid-location") {
            _ = try $0.register(
                account: ids[1], party: "p", latitude: 91, longitude: 1, description: nil, now: Self.now)
        }
        refused("invalid-location") {
            _ = try $0.register(
                account: ids[1], party: "p", latitude: .nan, longitude: 1, description: nil, now: Self.now)
        }
        refused("invalid-description") {
            _ = try $0.register(
                account: ids[1], party: "p", latitude: 1, longitude: 1, description: String(repeating: "x", count: 281),
                now: Self.now)
        }
        // 99.9 m from the first registration, under the default 100 m.
        refused("location-taken") {
            _ = try $0.register(
                account: ids[1], party: "p", latitude: 0.000898, longitude: 0, description: nil, now: Self.now)
        }
        refused("not-registered") { _ = try $0.deregister(account: ids[1], party: "p", now: Self.now) }
        refused("registration-closed") { _ = try $0.deregister(account: ids[0], party: "p", now: Self.now + 10) }

        var poor = try Self.state(funds: 100).0
        let poorID = poor.accounts.keys.sorted()[0]
        #expect(throws: RegistrationError.insufficientDeposit(required: 250, available: 100)) {
            try poor.register(account: poorID, party: "p", latitude: 1, longitude: 1, description: nil, now: Self.now)
        }
        #expect(poor.parties["p"]?.registrations.isEmpty == true)
    }

    @Test("deregistering returns the deposit and frees the spot for someone else")
    func deregisters() throws {
        var (state, ids) = try Self.state()
        _ = try state.register(
            account: ids[0], party: "p", latitude: 10, longitude: 10, description: nil, now: Self.now)
        _ = try state.deregister(account: ids[0], party: "p", now: Self.now)
        #expect(state.ledger.balance(.wallet(ids[0])) == 1_000)
        #expect(state.ledger.balance(.locked(holder: ids[0], party: "p")) == 0)
        _ = try state.register(
            account: ids[1], party: "p", latitude: 10, longitude: 10, description: nil, now: Self.now)
        #expect(state.ledger.isBalanced())
    }

    @Test("drafts outside the rules name the field")
    func drafts() {
        let base = PartyDraft(name: "p", registrationOpensAt: 0, registrationClosesAt: 10, startsAt: 10)
        #expect((try? base.validated()) != nil)
        var broken = base
        broken.timeZone = "Mars/Olympus"
        #expect(throws: PartyDraftError.self) { try broken.validated() }
        for (field, change) in [
            ("registrationClosesAt", { (d: inout PartyDraft) in d.registrationClosesAt = 0 }),
            ("startsAt", { (d: inout PartyDraft) in d.startsAt = 5 }),
            ("groupSize", { (d: inout PartyDraft) in d.groupSize = 3 }),
            ("minimumDistance", { (d: inout PartyDraft) in d.minimumDistance = .infinity }),
            ("deposit", { (d: inout PartyDraft) in d.deposit = -1 }),
            ("slashPermille", { (d: inout PartyDraft) in d.slashPermille = 1001 }),
            ("name", { (d: inout PartyDraft) in d.name = "" }),
        ] {
            var draft = base
            change(&draft)
            do {
                _ = try draft.validated()
                Issue.record("\(field) accepted")
            } catch {
                #expect(error.field == field)
            }
        }
    }
}
