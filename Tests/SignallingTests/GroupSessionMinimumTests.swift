import Signalling
import TestRandom
import Testing

@Suite("Group session: too few present at the start, and members who only verify")
struct GroupSessionMinimumTests {
    let start = ContinuousClock.now
    let members = ["m1", "m2", "m3", "m4", "m5", "m6"]

    func session(minimum: Int, provers: Set<String>? = nil) throws -> GroupSession {
        var rules = GroupSessionConfiguration()
        rules.minimumPresent = minimum
        return try #require(
            GroupSession(members: members, provers: provers, configuration: rules, random: SplitMix64(state: 3)))
    }

    @Test("below the minimum at the start the session ends undersized, naming those present, with no turn")
    func undersized() throws {
        var session = try session(minimum: 4)
        _ = try session.join("m1", now: start)
        _ = try session.join("m2", now: start)
        _ = try session.join("m3", now: start)
        _ = try session.leave("m3", now: start, reconnecting: true)
        let events = try session.begin(now: start)
        #expect(events == [.undersized(present: ["m1", "m2", "m3"]), .sessionFinished([])])
        #expect(session.finished && session.undersized == ["m1", "m2", "m3"] && session.turn == nil)
        #expect(throws: GroupSession.Failure.sessionFinished) { try session.join("m4", now: start) }
    }

    @Test("at the minimum the turns run with whoever is there")
    func atMinimum() throws {
        var session = try session(minimum: 4)
        for member in members.prefix(4) { _ = try session.join(member, now: start) }
        let events = try session.begin(now: start)
        #expect(session.undersized == nil && !session.finished && session.turn != nil)
        #expect(!events.contains(.sessionFinished([])))
    }

    @Test("only the named provers take a turn; the others verify")
    func provers() throws {
        #expect(
            GroupSession(members: members, provers: [], random: SplitMix64(state: 1)) == nil, "at least one prover")
        #expect(
            GroupSession(members: members, provers: ["m1", "x"], random: SplitMix64(state: 1)) == nil,
            "provers are members")
        var session = try session(minimum: 0, provers: ["m2", "m5"])
        #expect(Set(session.order) == ["m2", "m5"])
        for member in members { _ = try session.join(member, now: start) }
        let turn = try #require(session.turn)
        #expect(["m2", "m5"].contains(turn.prover) && turn.verifiers.count == 5)
    }
}
