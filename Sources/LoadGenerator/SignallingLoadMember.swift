import Histogram
import Signalling
import SignallingClient
import Synchronization

/// Counters and latencies shared by every simulated member.
final class LoadState: Sendable {
    private struct Counts {
        var report = LoadReport()
        var turnsStarted = 0
        var errors: [String: Int] = [:]
        var open = false
    }

    private let counts = Mutex(Counts())
    /// The origin of the timestamps members put in their messages.
    let origin = ContinuousClock.now

    func turnStarted() { counts.withLock { $0.turnsStarted += 1 } }

    func open() { counts.withLock { $0.open = true } }

    func sent() { counts.withLock { $0.report.sent += 1 } }

    func error(_ code: String) { counts.withLock { $0.errors[code, default: 0] += 1 } }

    /// Records a message sent at `nanoseconds` after `origin`, if the load phase is on.
    func received(sentAt nanoseconds: Int64) {
        let elapsed = origin.duration(to: .now)
        let micros = max(
            0,
            (elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000 - nanoseconds)
                / 1000)
        counts.withLock {
            guard $0.open else { return }
            $0.report.received += 1
            $0.report.latency.record(UInt64(micros))
        }
    }

    func snapshot() -> LoadReport { counts.withLock { $0.report } }

    func errorCounts() -> [String: Int] { counts.withLock { $0.errors } }

    /// Waits until `count` members have seen their first turn start.
    func waitForTurns(_ count: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while counts.withLock({ $0.turnsStarted }) < count {
            guard ContinuousClock.now < deadline else {
                throw LoadError("only \(counts.withLock { $0.turnsStarted }) of \(count) members reached a turn")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func nanosecondsSinceOrigin() -> Int64 {
        let elapsed = origin.duration(to: .now)
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }
}

/// One simulated member: joins, learns its turn's peers, relays timestamps to them, measures theirs.
final class LoadMember: Sendable {
    let connection: SignallingConnection
    let token: String
    let state: LoadState
    private let peers = Mutex<[String]>([])

    init(connection: SignallingConnection, token: String, state: LoadState) {
        self.connection = connection
        self.token = token
        self.state = state
    }

    /// Joins and reads the member's messages in the background.
    func start() {
        connection.send(.join(version: SessionRoom.protocolVersion, token: token))
        Task {
            for await message in connection.messages {
                switch message {
                case .turnStart(let view):
                    peers.withLock { $0 = view.role == .prover ? view.verifiers : [view.prover] }
                    state.turnStarted()
                case .candidate(_, let candidate):
                    if let sent = Int64(candidate.candidate) { state.received(sentAt: sent) }
                case .error(let code, _):
                    state.error(code)
                default:
                    break
                }
            }
        }
    }

    /// Sends `rate` messages a second, round robin over the turn's peers, until `end`.
    func send(rate: Double, until end: ContinuousClock.Instant) async throws {
        guard rate > 0 else { return }
        let interval = Duration.nanoseconds(Int64(1e9 / rate))
        // Spread the members' phases so they do not all send in the same instant.
        var next = ContinuousClock.now + .nanoseconds(Int64.random(in: 0..<max(1, Int64(1e9 / rate))))
        var index = 0
        while next < end {
            try await Task.sleep(until: next)
            let targets = peers.withLock { $0 }
            if !targets.isEmpty {
                let candidate = ICECandidate(candidate: String(state.nanosecondsSinceOrigin()))
                connection.send(.candidate(to: targets[index % targets.count], candidate: candidate))
                state.sent()
                index += 1
            }
            next += interval
        }
    }
}
