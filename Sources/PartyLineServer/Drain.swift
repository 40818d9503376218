import Logging
import RelayServer
import ServiceLifecycle
import SignallingServer
import Synchronization
import UnixSignals

/// Whether the process is draining, for readiness.
final class DrainState: Sendable {
    private let flag = Atomic<Bool>(false)
    var isDraining: Bool { flag.load(ordering: .relaxed) }
    func begin() { flag.store(true, ordering: .relaxed) }
}

/// Shutdown in two steps. The first SIGTERM or SIGINT (or ``requests``, which tests use) starts a drain:
/// readiness turns false, the relay sends new allocations elsewhere, signalling refuses new sessions and
/// starts no new turn; running turns go on to their decisions, their relays with them, for at most
/// `timeout`. Then the service returns and the group shuts down gracefully (the process exits 0). A second
/// signal during the drain stops at once.
struct DrainService: Service {
    /// Thrown when a second signal cuts the drain short: the group is cancelled.
    struct Interrupted: Error {}

    let state: DrainState
    let hub: SignallingHub
    let relay: RelayServer
    let timeout: Duration
    let requests: AsyncStream<Void>
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let stops = Stops(signals: signals, requests: requests)
        guard let first = await cancelWhenGracefulShutdown({ await stops.next() }) else { return }
        let started = ContinuousClock.now
        logger.notice(
            "draining: no new sessions, turns or allocations; running turns may finish",
            metadata: ["cause": "\(first)", "runningTurns": "\(hub.runningTurnCount())", "timeout": "\(timeout)"])
        state.begin()
        hub.drain()
        await relay.drain()
        let drained = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                while hub.runningTurnCount() > 0, ContinuousClock.now - started < timeout {
                    try await Task.sleep(for: .milliseconds(100))
                }
                return hub.runningTurnCount() == 0
            }
            group.addTask {
                _ = await stops.next()
                throw Interrupted()
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        logger.notice(
            drained ? "drained: every turn finished; stopping" : "drain timed out with turns running; stopping",
            metadata: ["after": "\(ContinuousClock.now - started)"])
    }

    /// The next stop request: a signal, or one sent on `requests`.
    private final class Stops: Sendable {
        private let merged: AsyncStream<String>
        private let feeders: [Task<Void, Never>]

        init(signals: UnixSignalsSequence, requests: AsyncStream<Void>) {
            let (merged, continuation) = AsyncStream<String>.makeStream()
            self.merged = merged
            feeders = [
                Task {
                    for await signal in signals { continuation.yield("\(signal)") }
                },
                Task {
                    for await _ in requests { continuation.yield("request") }
                },
            ]
        }

        deinit { for feeder in feeders { feeder.cancel() } }

        /// One caller at a time (the drain waits for the first stop, then for a second).
        func next() async -> String? {
            var iterator = merged.makeAsyncIterator()
            return await iterator.next()
        }
    }
}
