import Crypto
import Signalling
import Synchronization
import Testing

@testable import SignallingServer

@Suite("A client that stops reading")
struct SlowClientTests {
    @Test("is dropped once its queue is full, and counts as a member who dropped; the others are told")
    func slowClientIsDropped() async throws {
        let group = try #require(GroupSession(members: ["a", "b", "c"], random: SystemRandomNumberGenerator()))
        let room = SessionRoom(id: "s", group: group, signingKey: .init()) { _ in [] }
        let session = LiveSession(room: room, members: [:], startAt: .now + .seconds(3600), revoke: { _ in })
        let dropped = Mutex(false)
        let (stuckMessages, stuck) = AsyncStream<LiveSession.Outbound>.makeStream(bufferingPolicy: .bufferingOldest(2))
        session.connect("a", on: 1, outlet: stuck) { dropped.withLock { $0 = true } }
        #expect(!dropped.withLock { $0 })
        let (bMessages, bOutlet) = AsyncStream<LiveSession.Outbound>.makeStream()
        session.connect("b", on: 2, outlet: bOutlet)
        let (cMessages, cOutlet) = AsyncStream<LiveSession.Outbound>.makeStream()
        session.connect("c", on: 3, outlet: cOutlet)
        #expect(dropped.withLock { $0 }, "a welcome and a presence fill a's queue of two; the next message drops it")
        let summary = session.summary()
        #expect(summary.members.first { $0.member == "a" }?.presence == "reconnecting")
        bOutlet.finish()
        var texts: [String] = []
        for await case .text(let text) in bMessages { texts.append(text) }
        let pseudonym = try #require(summary.members.first { $0.member == "a" }?.pseudonym)
        #expect(texts.contains { $0.contains(#""state":"reconnecting""#) && $0.contains(pseudonym) })
        withExtendedLifetime((stuckMessages, cMessages)) {}
    }
}
