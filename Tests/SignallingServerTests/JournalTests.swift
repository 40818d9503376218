import NIOConcurrencyHelpers
import Signalling
import SignallingClient
import SignallingServer
import Testing

/// The session waits for its journal: nothing it records is announced before the journal has it.
@Suite("Session journal over WebSocket", .timeLimit(.minutes(1)))
struct JournalTests {
    /// Members joined, the first turn started: each member's connection, inbox and view of the turn.
    static func started(_ harness: SignallingHarness) async throws -> (
        session: String, members: [(SignallingConnection, Inbox, TurnView)]
    ) {
        let created = try await harness.createSession(members: ["j1", "j2", "j3"])
        return (created.session, try await harness.joinAll(created))
    }

    @Test("a vote-ack follows the journal's record of the vote, however long the journal takes")
    func acknowledgedAfterRecord() async throws {
        let records = NIOLockedValueBox<[SessionRoom.SessionRecord]>([])
        let released = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
        let journal: @Sendable (String, SessionRoom.SessionRecord) async -> Bool = { _, record in
            records.withLockedValue { $0.append(record) }
            if case .vote = record {
                try? await Task.sleep(for: .milliseconds(300))
                released.withLockedValue { $0 = .now }
            }
            return true
        }
        try await SignallingHarness.withRunning(journal: journal) { harness in
            var (_, members) = try await Self.started(harness)
            let index = try #require(members.firstIndex { $0.2.role == .verifier })
            members[index].0.send(.vote(turn: 0, vote: .approve))
            let ack = try await members[index].1.first { if case .voteAck(let turn, _) = $0 { turn } else { nil } }
            let acknowledgedAt = ContinuousClock.now
            #expect(ack == 0)
            let releasedAt = try #require(released.withLockedValue { $0 })
            #expect(releasedAt <= acknowledgedAt)
            #expect(
                records.withLockedValue { $0 }.contains { record in
                    if case .vote(0, _, .approve) = record { true } else { false }
                }, "the vote was recorded")
            for member in members { member.0.close() }
        }
    }

    @Test("a journal that cannot record abandons the session: members are told and disconnected")
    func abandoned() async throws {
        let journal: @Sendable (String, SessionRoom.SessionRecord) async -> Bool = { _, record in
            if case .vote = record { return false }
            return true
        }
        try await SignallingHarness.withRunning(journal: journal) { harness in
            var (session, members) = try await Self.started(harness)
            let index = try #require(members.firstIndex { $0.2.role == .verifier })
            members[index].0.send(.vote(turn: 0, vote: .approve))
            for position in members.indices {
                var sawAck = false
                var error: String?
                while let message = await members[position].1.next() {
                    if case .voteAck = message { sawAck = true }
                    if case .error(let code, _) = message { error = code }
                }
                #expect(!sawAck && error == "storage-unavailable")
            }
            #expect(harness.hub.summary(of: session) == nil, "the hub forgets it, so it can be created again")
        }
    }
}
