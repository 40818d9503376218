import Foundation
import Logging
import RelayServer
import ServiceLifecycle
import SignallingServer
import Synchronization
import UnixSignals

/// The service group, once made: the drain shuts it down when it is done.
final class GroupSlot: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)
    func set(_ group: ServiceGroup) { self.group.withLock { $0 = group } }
    var value: ServiceGroup? { group.withLock { $0 } }
}

/// Shutdown in two steps. The first SIGTERM or SIGINT (or ``requests``, which tests use) starts a drain:
/// signalling refuses new sessions and starts no new turn (readiness reads `SignallingHub.isDraining`), the
/// relay sends new allocations elsewhere but those of the running turns; running turns go on to their
/// decisions, their relays with them, for at most `timeout`. Then the service triggers the group's graceful
/// shutdown and is told last (the process exits 0). A second signal, during the drain or after it, stops at
/// once.
struct DrainService: Service {
    /// Thrown when a second signal cuts the drain short: the group is cancelled.
    struct Interrupted: Error {}

    let hub: SignallingHub
    let relay: RelayServer
    let timeout: Duration
    let requests: AsyncStream<Void>
    let logger: Logger
    /// The group this service belongs to, set once it exists: the drain's end shuts it down.
    let group: GroupSlot

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let stops = Stops(signals: signals, requests: requests)
        // Until the first stop, or until the group shuts down for another reason.
        guard (try? await stops.wait(for: 1)) != nil, let first = stops.firstCause else { return }
        let started = ContinuousClock.now
        logger.notice(
            "draining: no new sessions, turns or allocations; running turns may finish",
            metadata: ["cause": "\(first)", "runningTurns": "\(hub.runningTurnCount())", "timeout": "\(timeout)"])
        hub.drain()
        await relay.drain(exempt: hub.runningTurnSubjects())
        while hub.runningTurnCount() > 0, ContinuousClock.now - started < timeout {
            guard stops.count < 2 else { throw Interrupted() }
            try await Task.sleep(for: Stops.poll)
        }
        guard stops.count < 2 else { throw Interrupted() }
        logger.notice(
            hub.runningTurnCount() == 0
                ? "drained: every turn finished; stopping" : "drain timed out with turns running; stopping",
            metadata: ["after": "\(ContinuousClock.now - started)"])
        // The others stop first (this service is the group's first, so it is told last); the signals stay
        // trapped meanwhile, and one more stops the process at once.
        await group.value?.triggerGracefulShutdown()
        if (try? await stops.wait(for: 2)) != nil {
            logger.notice("stopped at once: a second signal while shutting down")
            exit(0)
        }
    }

    /// Stop requests counted as they come: signals, and those sent on `requests`. Waiting polls the count, so
    /// no waiter's cancellation can end the stream for the next one.
    private final class Stops: Sendable {
        static let poll = Duration.milliseconds(100)
        private let received = Mutex<(count: Int, first: String?)>((0, nil))
        private let feeders: Mutex<[Task<Void, Never>]> = Mutex([])

        init(signals: UnixSignalsSequence, requests: AsyncStream<Void>) {
            feeders.withLock {
                $0 = [
                    Task { [weak self] in
                        for await signal in signals { self?.record("\(signal)") }
                    },
                    Task { [weak self] in
                        for await _ in requests { self?.record("request") }
                    },
                ]
            }
        }

        deinit { for feeder in feeders.withLock({ $0 }) { feeder.cancel() } }

        private func record(_ cause: String) {
            received.withLock {
                $0.count += 1
                if $0.first == nil { $0.first = cause }
            }
        }

        var count: Int { received.withLock { $0.count } }
        var firstCause: String? { received.withLock { $0.first } }

        /// Returns once `count` stops arrived; throws when the service is told to shut down, or cancelled.
        func wait(for count: Int) async throws {
            while self.count < count {
                guard !Task.isShuttingDownGracefully else { throw CancellationError() }
                try await Task.sleep(for: Self.poll)
            }
        }
    }
}
