import Atomics
import Signalling

/// What the signalling wing has done, counted as it happens (relaxed atomics) and read at scrape time.
final class SignallingCounters: Sendable {
    private let webSocketsOpened = ManagedAtomic<Int>(0)
    private let webSocketsClosed = ManagedAtomic<Int>(0)
    private let sessionsCreated = ManagedAtomic<Int>(0)
    private let approvals = ManagedAtomic<Int>(0)
    private let denials = ManagedAtomic<Int>(0)
    private let approved = ManagedAtomic<Int>(0)
    private let denied = ManagedAtomic<Int>(0)
    private let noShows = ManagedAtomic<Int>(0)
    private let incomplete = ManagedAtomic<Int>(0)
    private let streamStops = ManagedAtomic<Int>(0)

    func webSocketOpened() { webSocketsOpened.wrappingIncrement(ordering: .relaxed) }
    func webSocketClosed() { webSocketsClosed.wrappingIncrement(ordering: .relaxed) }
    func sessionCreated() { sessionsCreated.wrappingIncrement(ordering: .relaxed) }
    func streamStopped() { streamStops.wrappingIncrement(ordering: .relaxed) }

    /// A record the journal made durable: a vote, or a turn's decision.
    func recorded(_ record: SessionRoom.SessionRecord) {
        switch record {
        case .vote(_, _, .approve): approvals.wrappingIncrement(ordering: .relaxed)
        case .vote(_, _, .deny): denials.wrappingIncrement(ordering: .relaxed)
        case .turnDecided(let result): counter(of: result.outcome).wrappingIncrement(ordering: .relaxed)
        }
    }

    private func counter(of outcome: GroupSession.Outcome) -> ManagedAtomic<Int> {
        switch outcome {
        case .approved: approved
        case .denied: denied
        case .noShow: noShows
        case .incomplete: incomplete
        }
    }

    func statistics() -> SignallingStatistics {
        var statistics = SignallingStatistics()
        let opened = webSocketsOpened.load(ordering: .relaxed)
        statistics.webSocketsAccepted = opened
        statistics.webSocketsOpen = opened - webSocketsClosed.load(ordering: .relaxed)
        statistics.sessionsCreated = sessionsCreated.load(ordering: .relaxed)
        statistics.votes = [.approve: approvals.load(ordering: .relaxed), .deny: denials.load(ordering: .relaxed)]
        for outcome in GroupSession.Outcome.allCases {
            statistics.decisions[outcome] = counter(of: outcome).load(ordering: .relaxed)
        }
        statistics.streamStops = streamStops.load(ordering: .relaxed)
        return statistics
    }
}

/// A snapshot of the signalling wing for metrics.
public struct SignallingStatistics: Sendable, Hashable {
    /// WebSockets admitted (a valid `join`) and still open.
    public var webSocketsOpen = 0
    public var webSocketsAccepted = 0
    public var sessionsCreated = 0
    /// Live sessions by state: `waiting`, `running`, `finished` (kept for the retention period), `undersized`.
    public var sessions: [String: Int] = [:]
    /// Turns in progress (one per running session).
    public var runningTurns = 0
    /// Votes made durable, by vote.
    public var votes: [GroupSession.Vote: Int] = [:]
    /// Turns decided, by outcome.
    public var decisions: [GroupSession.Outcome: Int] = [:]
    /// Revocations of a turn's credentials at the relay (the stream stop).
    public var streamStops = 0
}
