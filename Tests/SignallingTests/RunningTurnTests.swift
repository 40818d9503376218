import Signalling
import TestRandom
import Testing

/// The running turn decides who may see a prover's committed location: only that turn's verifiers, only
/// while it runs.
@Suite("The running turn")
struct RunningTurnTests {
    let start = ContinuousClock.now
    let members = ["m1", "m2", "m3", "m4", "m5", "m6"]

    /// Approves turn `index` with the votes of all its verifiers.
    func approve(_ session: inout GroupSession, at now: ContinuousClock.Instant) throws {
        let turn = try #require(session.runningTurn)
        for verifier in turn.verifiers.sorted() where session.runningTurn?.index == turn.index {
            _ = try session.vote(.approve, by: verifier, turn: turn.index, now: now)
        }
    }

    @Test("waiting, a no-show grace, running, a verifier who left, decided, the next turn, a prover who left, finished")
    func everyState() throws {
        var session = try #require(GroupSession(members: members, random: SplitMix64(state: 11)))
        let order = session.order
        // Waiting: the first prover is absent, the others are there.
        for member in order.dropFirst() { _ = try session.join(member, now: start) }
        #expect(session.runningTurn == nil)
        // The party's start: turn 0 exists, but its prover is absent (no-show grace): nothing runs.
        _ = try session.begin(now: start)
        #expect(session.turn?.index == 0 && session.turn?.waitingForProver != nil)
        #expect(session.runningTurn == nil)
        // The prover comes: turn 0 runs, with every other member as a verifier.
        _ = try session.join(order[0], now: start)
        #expect(session.runningTurn?.index == 0 && session.runningTurn?.prover == order[0])
        #expect(session.runningTurn?.verifiers == Set(order.dropFirst()))
        // A verifier who leaves for good (the prover of turn 2) is no verifier any more.
        _ = try session.leave(order[2], now: start, reconnecting: false)
        #expect(session.runningTurn?.verifiers.contains(order[2]) == false)
        // Decided: turn 0 no longer runs; turn 1's prover is there, so it runs at once.
        try approve(&session, at: start)
        #expect(session.runningTurn?.index == 1 && session.runningTurn?.prover == order[1])
        // Turn 2's prover left: its turn waits out the no-show grace, and nothing runs meanwhile.
        try approve(&session, at: start)
        #expect(session.turn?.index == 2 && session.turn?.prover == order[2])
        #expect(session.runningTurn == nil)
        // The grace runs out: a no-show, and turn 3 runs.
        let later = start + .seconds(60)
        _ = session.tick(now: later)
        #expect(session.runningTurn?.index == 3)
        // The remaining turns, then the session is over and nothing runs.
        while session.runningTurn != nil { try approve(&session, at: later) }
        _ = session.tick(now: later + .seconds(600))
        #expect(session.finished)
        #expect(session.runningTurn == nil)
    }
}
