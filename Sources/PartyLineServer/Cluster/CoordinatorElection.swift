import CoordinatorServer
import CoordinatorStore
import Logging
import ServiceLifecycle

/// A cluster node's claim on the coordinator: it waits for the database's coordinator lock (asking every
/// `poll`), and once granted hands the connection to the standing-by ``LiveCoordinator``, which rebuilds the
/// state from the stored rows and starts accepting operations. A holder whose storage fails for good steps
/// down and waits again. When the group shuts down, the coordinator's writer drains and closes the
/// connection, which frees the lock for the next node.
struct CoordinatorElection: Service {
    let coordinator: LiveCoordinator
    let database: SQLCoordinatorStore.Backend
    let poll: Duration
    /// Called right after a take-over (writes the node's heartbeat at once).
    let tookOver: @Sendable () async -> Void
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if !coordinator.isHolding {
                    // A holder whose storage failed steps down first: its connection may still hold the lock.
                    if coordinator.hasFailed { logger.warning("the coordinator's storage failed: stepping down") }
                    await coordinator.stepDown()
                    await claim()
                }
                try? await Task.sleep(for: poll)
            }
        }
    }

    /// Waits for the lock and takes the coordinator over.
    private func claim() async {
        let waiting = ContinuousClock.now
        let store: SQLCoordinatorStore
        do {
            store = try await SQLCoordinatorStore.open(database, logger: logger, access: .standby(poll: poll))
        } catch is CancellationError {
            return
        } catch {
            logger.warning("cannot reach the database to stand by", metadata: ["error": "\(error)"])
            return
        }
        let granted = ContinuousClock.now
        do {
            try await coordinator.takeOver(store)
        } catch {
            logger.error("the stored state could not be loaded; not taking over", metadata: ["error": "\(error)"])
            try? await store.close()
            return
        }
        await tookOver()
        logger.notice(
            "took the coordinator over",
            metadata: [
                "waitedMilliseconds": "\(Int((granted - waiting) / .milliseconds(1)))",
                "loadMilliseconds": "\(Int((ContinuousClock.now - granted) / .milliseconds(1)))",
            ])
    }
}
