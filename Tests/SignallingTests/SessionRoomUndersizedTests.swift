import Crypto
import Signalling
import TestRandom
import Testing

@Suite("Session room: a session that begins with too few members present")
struct SessionRoomUndersizedTests {
    let start = ContinuousClock.now
    let members = ["m1", "m2", "m3", "m4", "m5", "m6"]

    func time(_ seconds: Double) -> SessionRoom.Time {
        SessionRoom.Time(instant: start + .seconds(seconds), unixMillis: 1_000_000 + UInt64(seconds * 1000))
    }

    @Test("those there hear `undersized`, the result and a close; a latecomer hears the same on joining")
    func undersized() throws {
        var rules = GroupSessionConfiguration()
        rules.minimumPresent = 4
        let group = try #require(GroupSession(members: members, configuration: rules, random: SplitMix64(state: 5)))
        var room = SessionRoom(id: "s9", group: group, signingKey: Curve25519.Signing.PrivateKey()) { _ in [] }
        _ = room.connect("m1", on: 1, at: time(0))
        _ = room.connect("m2", on: 2, at: time(0))
        let begun = room.begin(at: time(5))
        let toFirst = begun.compactMap { if case .send(1, let message) = $0 { message } else { nil } }
        #expect(toFirst == [.undersized(present: 2, minimum: 4), .sessionResult([])])
        #expect(begun.contains(.close(2, .finished)) && begun.contains(.finished))
        #expect(!begun.contains { if case .record = $0 { true } else { false } }, "no turn, nothing to record")
        #expect(room.evidence.entries.contains { $0.kind == "undersized" && $0.detail == "present=m1,m2" })

        let late = room.connect("m3", on: 3, at: time(6))
        let toLate = late.compactMap { if case .send(3, let message) = $0 { message } else { nil } }
        #expect(toLate.dropFirst() == [.undersized(present: 2, minimum: 4), .sessionResult([])])
        #expect(late.last == .close(3, .finished))
        #expect(SessionSummary(room).state == "undersized" && SessionSummary(room).present == ["m1", "m2"])
    }
}
