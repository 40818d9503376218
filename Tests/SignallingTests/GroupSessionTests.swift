import Signalling
import TestRandom
import Testing

@Suite("Group session state machine")
struct GroupSessionTests {
    let start = ContinuousClock.now
    let members = ["m1", "m2", "m3", "m4", "m5", "m6"]

    func session(seed: UInt64 = 7) throws -> GroupSession {
        try #require(GroupSession(members: members, random: SplitMix64(state: seed)))
    }

    /// A session with everyone joined and the first turn started.
    func running() throws -> GroupSession {
        var session = try session()
        for member in members { _ = try session.join(member, now: start) }
        return session
    }

    func verifiers(_ session: GroupSession) throws -> [String] {
        try #require(session.turn).verifiers.sorted()
    }

    @Test("3 to 12 distinct members; distinct pseudonyms; the order is a permutation drawn from the randomness")
    func setup() throws {
        #expect(GroupSession(members: ["a", "b"], random: SplitMix64(state: 1)) == nil)
        #expect(GroupSession(members: (0..<13).map { "m\($0)" }, random: SplitMix64(state: 1)) == nil)
        #expect(GroupSession(members: ["a", "a", "b"], random: SplitMix64(state: 1)) == nil)
        let first = try session()
        #expect(Set(first.pseudonyms.values).count == 6)
        #expect(first.order.sorted() == members)
        let other = try session(seed: 8)
        #expect(other.order != first.order || other.pseudonyms != first.pseudonyms)
        #expect(try session(seed: 7).order == first.order, "same seed, same order")
    }

    @Test("the first turn starts when everyone has joined; a majority of approvals decides it and stops the stream")
    func approval() throws {
        var session = try session()
        var events: [GroupSession.Event] = []
        for member in members { events += try session.join(member, now: start) }
        let turn = try #require(session.turn)
        #expect(turn.prover == session.order[0] && turn.threshold == 3 && turn.verifiers.count == 5)
        #expect(events.contains { if case .turnStarted(0, turn.prover, _, _, _) = $0 { true } else { false } })
        let voters = try verifiers(session)
        #expect(
            try session.vote(.approve, by: voters[0], turn: 0, now: start) == [
                .voteAccepted(turn: 0, verifier: voters[0])
            ])
        _ = try session.vote(.deny, by: voters[1], turn: 0, now: start)
        _ = try session.vote(.approve, by: voters[2], turn: 0, now: start)
        let decided = try session.vote(.approve, by: voters[3], turn: 0, now: start)
        let result = GroupSession.TurnResult(
            turn: 0, prover: turn.prover, outcome: .approved, approvals: 3, denials: 1, threshold: 3)
        #expect(decided.contains(.streamStop(turn: 0, prover: turn.prover)))
        #expect(decided.contains(.turnDecided(result)))
        #expect(session.turn?.index == 1 && session.turn?.prover == session.order[1])
        #expect(session.votes[0]?[voters[1]] == .deny, "who voted what is kept for the record")
    }

    @Test("invalid votes are refused with their error and change nothing")
    func invalidVotes() throws {
        var session = try running()
        let prover = try #require(session.turn).prover
        let voters = try verifiers(session)
        _ = try session.vote(.approve, by: voters[0], turn: 0, now: start)
        let before = session.turn
        #expect(throws: GroupSession.Failure.proverCannotVote) {
            try session.vote(.approve, by: prover, turn: 0, now: start)
        }
        #expect(throws: GroupSession.Failure.alreadyVoted) {
            try session.vote(.deny, by: voters[0], turn: 0, now: start)
        }
        #expect(throws: GroupSession.Failure.wrongTurn) {
            try session.vote(.approve, by: voters[1], turn: 1, now: start)
        }
        #expect(throws: GroupSession.Failure.notAMember) {
            try session.vote(.approve, by: "stranger", turn: 0, now: start)
        }
        #expect(session.turn == before)
        // A vote for a decided turn is a vote for the wrong turn.
        for voter in voters.dropFirst().prefix(2) { _ = try session.vote(.approve, by: voter, turn: 0, now: start) }
        #expect(session.turn?.index == 1)
        #expect(throws: GroupSession.Failure.wrongTurn) {
            try session.vote(.approve, by: voters[4], turn: 0, now: start)
        }
    }

    @Test("denials that make the threshold unreachable decide at once; the deadline decides with the votes so far")
    func denialAndDeadline() throws {
        var session = try running()
        let voters = try verifiers(session)
        for voter in voters.prefix(2) { _ = try session.vote(.deny, by: voter, turn: 0, now: start) }
        #expect(session.turn?.index == 0)
        let decided = try session.vote(.deny, by: voters[2], turn: 0, now: start)
        #expect(
            decided.contains {
                if case .turnDecided(let r) = $0 { r.outcome == .denied && r.denials == 3 } else { false }
            })
        let second = try verifiers(session)
        for voter in second.prefix(2) { _ = try session.vote(.approve, by: voter, turn: 1, now: start) }
        #expect(session.tick(now: start + .seconds(119)).isEmpty)
        let late = session.tick(now: start + .seconds(120))
        #expect(
            late.contains {
                if case .turnDecided(let r) = $0 { r.outcome == .denied && r.approvals == 2 } else { false }
            })
    }

    @Test("a verifier who leaves mid-turn is dropped from the count")
    func verifierLeaves() throws {
        var session = try running()
        let voters = try verifiers(session)
        for voter in voters.prefix(2) { _ = try session.vote(.approve, by: voter, turn: 0, now: start) }
        _ = try session.leave(voters[2], now: start, reconnecting: false)
        _ = try session.leave(voters[3], now: start, reconnecting: false)
        #expect(session.turn?.verifiers.count == 3)
        let decided = try session.vote(.deny, by: voters[4], turn: 0, now: start)
        #expect(decided.contains { if case .turnDecided(let r) = $0 { r.outcome == .denied } else { false } })
    }

    @Test("an absent prover is a no-show after the grace period; no stream to stop")
    func noShow() throws {
        var session = try session()
        let absent = session.order[0]
        for member in members where member != absent { _ = try session.join(member, now: start) }
        #expect(session.turn == nil, "not everyone has joined")
        _ = try session.begin(now: start)
        #expect(session.turn?.prover == absent && session.turn?.waitingForProver != nil)
        #expect(session.tick(now: start + .seconds(19)).isEmpty)
        let events = session.tick(now: start + .seconds(20))
        #expect(events.contains { if case .turnDecided(let r) = $0 { r.outcome == .noShow } else { false } })
        #expect(!events.contains { if case .streamStop = $0 { true } else { false } })
        #expect(session.turn?.index == 1)
    }

    @Test(
        "a dropped prover resumes within the grace period; otherwise the turn is incomplete and retried once at the end"
    )
    func proverDrop() throws {
        var session = try running()
        let prover = try #require(session.turn).prover
        _ = try session.leave(prover, now: start, reconnecting: true)
        _ = try session.join(prover, now: start + .seconds(10))
        #expect(session.tick(now: start + .seconds(16)).isEmpty, "resumed: the turn goes on")
        _ = try session.leave(prover, now: start + .seconds(20), reconnecting: true)
        let events = session.tick(now: start + .seconds(35))
        #expect(events.contains { if case .turnDecided(let r) = $0 { r.outcome == .incomplete } else { false } })
        #expect(events.contains(.streamStop(turn: 0, prover: prover)))
        #expect(session.order.count == 7 && session.order.last == prover)
    }

    @Test("a dropped verifier keeps seat and vote through the grace; one who never comes back before voting is dropped")
    func verifierDrop() throws {
        var session = try running()
        let voters = try verifiers(session)
        _ = try session.vote(.approve, by: voters[0], turn: 0, now: start)
        _ = try session.leave(voters[0], now: start, reconnecting: true)
        _ = try session.leave(voters[1], now: start, reconnecting: true)
        #expect(session.turn?.verifiers.count == 5 && session.nextDeadline == start + .seconds(15))
        _ = try session.join(voters[1], now: start + .seconds(5))
        _ = try session.leave(voters[2], now: start + .seconds(5), reconnecting: true)
        #expect(session.tick(now: start + .seconds(19)).isEmpty)
        _ = session.tick(now: start + .seconds(20))
        #expect(session.turn?.verifiers.count == 4, "voters[2] is out of the count; voters[0]'s vote stands")
        #expect(session.turn?.verifiers.contains(voters[0]) == true && session.turn?.threshold == 3)
        _ = try session.vote(.approve, by: voters[1], turn: 0, now: start + .seconds(21))
        let decided = try session.vote(.approve, by: voters[3], turn: 0, now: start + .seconds(21))
        #expect(decided.contains { if case .turnDecided(let r) = $0 { r.approvals == 3 } else { false } })
    }

    @Test("a prover cannot escape the deadline by disconnecting; one who leaves for good gets no retry")
    func proverCannotDodge() throws {
        var session = try running()
        let prover = try #require(session.turn).prover
        let voters = try verifiers(session)
        for voter in voters.prefix(2) { _ = try session.vote(.deny, by: voter, turn: 0, now: start) }
        _ = try session.leave(prover, now: start + .seconds(115), reconnecting: true)
        #expect(session.nextDeadline == start + .seconds(120))
        let events = session.tick(now: start + .seconds(120))
        #expect(events.contains { if case .turnDecided(let r) = $0 { r.outcome == .denied } else { false } })
        let next = try #require(session.turn).prover
        _ = try session.leave(next, now: start + .seconds(121), reconnecting: false)
        #expect(session.results.last?.outcome == .incomplete && session.order.count == 6, "no retry after leaving")
    }

    @Test("a late prover's turn time starts when they arrive")
    func lateProver() throws {
        var session = try session()
        let absent = session.order[0]
        for member in members where member != absent { _ = try session.join(member, now: start) }
        _ = try session.begin(now: start)
        _ = try session.join(absent, now: start + .seconds(18))
        #expect(session.turn?.deadline == start + .seconds(138))
    }

    @Test("signalling flows only between the prover and the turn's verifiers")
    func edges() throws {
        var session = try running()
        let prover = try #require(session.turn).prover
        let voters = try verifiers(session)
        try session.checkEdge(from: prover, to: voters[0])
        try session.checkEdge(from: voters[0], to: prover)
        #expect(throws: GroupSession.Failure.edgeNotAllowed) { try session.checkEdge(from: voters[0], to: voters[1]) }
        #expect(throws: GroupSession.Failure.notAMember) { try session.checkEdge(from: "x", to: prover) }
        for voter in voters.prefix(3) { _ = try session.vote(.approve, by: voter, turn: 0, now: start) }
        // Turn 1: the old prover is a verifier now, and verifiers do not signal each other.
        let next = try #require(session.turn).prover
        let other = try #require(voters.first { $0 != next })
        #expect(throws: GroupSession.Failure.edgeNotAllowed) { try session.checkEdge(from: prover, to: other) }
    }

    @Test("prompts come from the configured list, on request from a verifier only")
    func prompts() throws {
        var session = try running()
        let turn = try #require(session.turn)
        #expect(session.configuration.prompts.contains(turn.prompt))
        let voters = try verifiers(session)
        let events = try session.requestPrompt(by: voters[0])
        guard case .prompt(0, let prompt) = try #require(events.first) else { return }
        #expect(session.configuration.prompts.contains(prompt))
        #expect(throws: GroupSession.Failure.notTheVerifier) { try session.requestPrompt(by: turn.prover) }
    }

    @Test("a whole session: six turns, each decided, then the result")
    func wholeSession() throws {
        var session = try running()
        var finished: [GroupSession.TurnResult]?
        for index in 0..<6 {
            let voters = try verifiers(session)
            for voter in voters.prefix(3) {
                for event in try session.vote(.approve, by: voter, turn: index, now: start) {
                    if case .sessionFinished(let results) = event { finished = results }
                }
            }
        }
        let results = try #require(finished)
        #expect(results.count == 6 && results.allSatisfy { $0.outcome == .approved })
        #expect(Set(results.map(\.prover)) == Set(members))
        #expect(throws: GroupSession.Failure.sessionFinished) { try session.join("m1", now: start) }
    }
}
