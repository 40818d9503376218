import Coordinator
import Testing

@Suite("Regrouping: undersized groups, new groups from those present, unplaced members")
struct RegroupingTests {
    static let now = RegistryTests.now
    static let seed = [UInt8](repeating: 9, count: 32)

    @Test("the present members of undersized groups form a new group; absent ones are no-shows")
    func regroups() throws {
        var (state, _, _) = try RegistryTests.startedParty(12)
        let groups = try #require(state.parties["p"]?.groups)
        #expect(groups.map(\.members.count) == [6, 6])
        let first = Array(groups[0].members.prefix(2))
        let second = Array(groups[1].members.suffix(3))
        _ = try state.closeUndersizedGroup(party: "p", group: 0, present: first, now: Self.now)
        #expect(state.parties["p"]?.waiting == Set(first))
        #expect(groups[0].members.dropFirst(2).allSatisfy { state.parties["p"]?.outcomes[$0] == .noShow })
        #expect(throws: PartyError.unknownGroup) {
            try state.closeUndersizedGroup(party: "p", group: 0, present: first, now: Self.now)
        }
        #expect(state.regroup(party: "p", minimum: 4, now: Self.now).isEmpty, "two cannot form a group")

        _ = try state.closeUndersizedGroup(party: "p", group: 1, present: second, now: Self.now)
        let changes = state.regroup(party: "p", minimum: 4, now: Self.now + 1)
        let book = try #require(state.parties["p"])
        #expect(changes.count == 1 && book.groups.count == 3 && book.assignedGroups == 2 && book.waiting.isEmpty)
        #expect(Set(book.groups[2].members) == Set(first + second))
        // The documented rule: the party's assignment over those waiting, keyed by the derived seed.
        let expected = Assignment.groups(
            accounts: first + second, seed: CoordinatorState.regroupSeed(Self.seed, sequence: 2), groupSize: 6,
            minimum: 4)
        #expect(book.groups[2].members == expected.first)
        #expect(book.groups[0].undersized && book.groups[1].undersized && !book.groups[2].undersized)
        #expect(book.outcomes.count == 7 && state.ledger.isBalanced())
        #expect(state.ledger.balance(.slashed(party: "p")) == 7 * 50)
    }

    @Test("members with an outcome already (a session created again after a restart) do not wait again")
    func decidedStayDecided() throws {
        var (state, _, _) = try RegistryTests.startedParty(6)
        let members = try #require(state.parties["p"]?.groups.first?.members)
        _ = try state.recordOutcome(party: "p", account: members[0], outcome: .validated, validity: 1, now: Self.now)
        _ = try state.closeUndersizedGroup(party: "p", group: 0, present: Array(members.prefix(3)), now: Self.now)
        #expect(state.parties["p"]?.waiting == Set(members[1...2]))
        #expect(state.parties["p"]?.outcomes[members[0]] == .validated)
        #expect(members[3...].allSatisfy { state.parties["p"]?.outcomes[$0] == .noShow })
    }

    @Test("too few waiting: they are unplaced and their deposits come back whole")
    func unplaced() throws {
        var (state, ids, _) = try RegistryTests.startedParty(6)
        let members = try #require(state.parties["p"]?.groups.first?.members)
        _ = try state.closeUndersizedGroup(party: "p", group: 0, present: Array(members.prefix(2)), now: Self.now)
        #expect(state.regroup(party: "p", minimum: 4, now: Self.now).isEmpty)
        _ = state.settleUnplaced(party: "p", now: Self.now)
        for account in ids {
            let present = members.prefix(2).contains(account)
            #expect(state.parties["p"]?.outcomes[account] == (present ? .unplaced : .noShow))
            #expect(state.ledger.balance(.wallet(account)) == (present ? 100 : 50))
        }
        #expect(state.parties["p"]?.waiting.isEmpty == true && state.ledger.isBalanced())
    }

    @Test("a party's end settles those still waiting as unplaced and everyone else once")
    func closing() throws {
        var (state, _, _) = try RegistryTests.startedParty(6)
        let members = try #require(state.parties["p"]?.groups.first?.members)
        _ = try state.closeUndersizedGroup(party: "p", group: 0, present: Array(members.prefix(3)), now: Self.now)
        _ = try state.closeEndedParties(now: Self.now - 10 + 3600)
        let outcomes = try #require(state.parties["p"]?.outcomes)
        #expect(outcomes.count == 6 && outcomes.values.filter { $0 == .unplaced }.count == 3)
        #expect(try state.closeEndedParties(now: Self.now + 7200).isEmpty)
    }

    @Test("too few registrants for any group: every one is unplaced at the start")
    func tooFewRegistrants() throws {
        let (state, ids, _) = try RegistryTests.startedParty(3)
        #expect(state.parties["p"]?.groups.isEmpty == true)
        #expect(
            ids.allSatisfy { state.parties["p"]?.outcomes[$0] == .unplaced && state.ledger.balance(.wallet($0)) == 100 }
        )
    }

    @Test("votes are recorded only for members of the session's group")
    func votes() throws {
        var (state, _, _) = try RegistryTests.startedParty(6)
        let members = try #require(state.parties["p"]?.groups.first?.members)
        #expect(throws: PartyError.unknownGroup) {
            try state.recordVote(session: "s", turn: 0, account: members[0], vote: "approve", now: Self.now)
        }
        _ = try state.attachSession(party: "p", group: 0, session: "s", tokens: [:])
        let changes = try state.recordVote(session: "s", turn: 0, account: members[1], vote: "deny", now: Self.now)
        #expect(
            changes == [
                .vote(
                    CastVote(
                        party: "p", group: 0, session: "s", turn: 0, account: members[1], vote: "deny", at: Self.now))
            ])
        #expect(throws: PartyError.notRegistered) {
            try state.recordVote(session: "s", turn: 0, account: "stranger", vote: "approve", now: Self.now)
        }
    }
}
