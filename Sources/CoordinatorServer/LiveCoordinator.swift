import Coordinator
import Logging
import ServiceLifecycle
import Synchronization

/// The running coordinator: the ``CoordinatorState`` under a lock, and a writer that makes its changes
/// durable with group commit. An operation is checked and applied to the state at once (so two concurrent
/// registrations at one spot cannot both pass), and its caller is answered only once the transaction
/// holding its changes has committed. Changes that arrive while a transaction is being written go into
/// the next one, so a busy coordinator commits thousands of operations per fsync.
///
/// On a node of a cluster the coordinator may stand by (``standby(logger:)``): it holds no state and
/// refuses every operation until the node's election hands it the database (``takeOver(_:)``), and goes
/// back to standing by when its storage fails for good (``stepDown()``).
public final class LiveCoordinator: Service, Sendable {
    /// Refusals when storage failed: the state was reloaded from the database and nothing unacknowledged
    /// stands.
    public struct StorageUnavailable: Error, Sendable {
        public let reason: String
    }

    private struct Pending {
        let changes: [CoordinatorChange]
        let complete: @Sendable ((any Error)?) -> Void
    }

    private struct Shared {
        var state: CoordinatorState
        var pending: [Pending] = []
        var failed: StorageUnavailable?
        /// Where changes are written; nil while standing by.
        var store: (any CoordinatorStorage)?
    }

    /// The refusal of a coordinator that stands by.
    static let notHeld = StorageUnavailable(reason: "this node does not hold the coordinator")

    /// Most operations in one transaction.
    static let batchLimit = 4096
    /// Attempts to reload the state after a failed commit, the wait doubling from 100 ms.
    static let reloadAttempts = 6

    private let shared: Mutex<Shared>
    private let metrics = CommitMetrics()
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let logger: Logger
    private let committed: Mutex<(@Sendable ([CoordinatorChange]) -> Void)?> = Mutex(nil)

    /// A coordinator over the state stored in `store`.
    public convenience init(store: any CoordinatorStorage, logger: Logger) async throws {
        self.init(Shared(state: try await store.load(), store: store), logger: logger)
    }

    private init(_ initial: Shared, logger: Logger) {
        shared = Mutex(initial)
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A coordinator that stands by: no state, every operation refused, until ``takeOver(_:)``.
    public static func standby(logger: Logger) -> LiveCoordinator {
        LiveCoordinator(Shared(state: CoordinatorState(), failed: notHeld), logger: logger)
    }

    /// Whether this coordinator holds its storage and accepts operations.
    public var isHolding: Bool { shared.withLock { $0.store != nil && $0.failed == nil } }

    /// Whether it holds storage that failed for good (reloading did not succeed): time to step down.
    public var hasFailed: Bool { shared.withLock { $0.store != nil && $0.failed != nil } }

    /// Starts coordinating over `store` (whose connection holds the database's coordinator lock): the state
    /// is loaded from the stored rows, and operations are accepted from now on.
    public func takeOver(_ store: any CoordinatorStorage) async throws {
        let state = try await store.load()
        shared.withLock { shared in
            shared.state = state
            shared.store = store
            shared.failed = nil
        }
    }

    /// Gives storage up and stands by again: the state is dropped and every operation refused.
    public func stepDown() async {
        let store = shared.withLock { shared -> (any CoordinatorStorage)? in
            defer {
                shared.store = nil
                shared.state = CoordinatorState()
                shared.failed = Self.notHeld
            }
            return shared.store
        }
        try? await store?.close()
    }

    /// The storage operations go to, or the refusal of a coordinator without it.
    private func currentStore() throws -> any CoordinatorStorage {
        guard let store = shared.withLock({ $0.store }) else { throw Self.notHeld }
        return store
    }

    /// A stored secret, created from `candidate` on first use and shared by every node on the database.
    public func secret(named name: String, candidate: String) async throws -> String {
        try await currentStore().secret(named: name, candidate: candidate)
    }

    /// Replaces the stored secret named `name`.
    public func replaceSecret(named name: String, value: String) async throws {
        try await currentStore().replaceSecret(named: name, value: value)
    }

    /// Every committed vote of `party`'s sessions.
    public func votes(party: String) async throws -> [CastVote] { try await currentStore().votes(party: party) }

    /// Hears every batch of changes once it is committed (webhooks); must not block.
    public func onCommitted(_ observer: @escaping @Sendable ([CoordinatorChange]) -> Void) {
        committed.withLock { $0 = observer }
    }

    /// Reads the current state (including changes not yet committed).
    public func read<T>(_ body: (borrowing CoordinatorState) throws -> T) rethrows -> T {
        try shared.withLock { try body($0.state) }
    }

    /// Applies `body` to the state at once; returns its result after its changes are committed. A throwing
    /// `body` must leave the state unchanged (every ``CoordinatorState`` operation does).
    public func perform<T: Sendable>(
        _ body: (inout CoordinatorState) throws -> (changes: [CoordinatorChange], result: T)
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let signal = shared.withLock { shared -> Bool in
                if let failed = shared.failed {
                    continuation.resume(throwing: failed)
                    return false
                }
                do {
                    let (changes, result) = try body(&shared.state)
                    if changes.isEmpty {
                        continuation.resume(returning: result)
                        return false
                    }
                    shared.pending.append(
                        Pending(changes: changes) { error in
                            if let error {
                                continuation.resume(throwing: error)
                            } else {
                                continuation.resume(returning: result)
                            }
                        })
                    return shared.pending.count == 1
                } catch {
                    continuation.resume(throwing: error)
                    return false
                }
            }
            if signal { wake.yield() }
        }
    }

    /// The writer: commits pending changes in batches until the service is shut down, then drains.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in self.wakes { await self.commitPending() }
        }
        // Drain and close outside the cancelled task, so a cancellation cannot strand acknowledged work.
        try await Task {
            await self.commitPending()
            // From here on operations are refused at once rather than queued for a writer that is gone.
            let stranded = self.shared.withLock { shared -> [Pending] in
                shared.failed = StorageUnavailable(reason: "the coordinator has shut down")
                defer { shared.pending.removeAll() }
                return shared.pending
            }
            if !stranded.isEmpty { await self.commit(stranded) }
            try await self.shared.withLock { $0.store }?.close()
        }.value
    }

    /// Closes storage when the coordinator never ran (the process failed to start after opening it).
    public func closeUnstarted() async {
        try? await shared.withLock { $0.store }?.close()
    }

    /// Stops the writer without a service group (tests, tools): pending changes are still committed.
    public func shutdown() { wake.finish() }

    private func commitPending() async {
        while true {
            let batch = shared.withLock { shared -> [Pending] in
                let count = min(shared.pending.count, Self.batchLimit)
                defer { shared.pending.removeFirst(count) }
                return Array(shared.pending.prefix(count))
            }
            if batch.isEmpty { return }
            await commit(batch)
        }
    }

    private func commit(_ batch: [Pending]) async {
        let started = ContinuousClock.now
        do {
            let changes = batch.flatMap(\.changes)
            try await currentStore().apply(changes)
            metrics.committed(operations: batch.count, changes: changes.count, in: ContinuousClock.now - started)
            for operation in batch { operation.complete(nil) }
            committed.withLock { $0 }?(changes)
        } catch {
            metrics.failed(operations: batch.count)
            logger.error("storage write failed; reloading the state", metadata: ["error": "\(error)"])
            await recover(failing: batch, error)
        }
    }

    /// Whether storage answers and no failed commit left the coordinator refusing operations: what
    /// readiness reports.
    public func isAvailable() async -> Bool {
        guard shared.withLock({ $0.failed == nil }) else { return false }
        do {
            try await currentStore().ping()
            return true
        } catch {
            return false
        }
    }

    /// After a failed commit the state holds changes that never reached the database: reload it (connecting
    /// again if the connection was lost, for about 6 s) and refuse every operation not yet acknowledged.
    private func recover(failing batch: [Pending], _ error: any Error) async {
        var reloaded: Result<CoordinatorState, any Error> = .failure(error)
        var wait = Duration.milliseconds(100)
        for attempt in 1...Self.reloadAttempts {
            do {
                let store = try currentStore()
                try await store.reconnectIfLost()
                reloaded = .success(try await store.load())
                break
            } catch {
                reloaded = .failure(error)
                logger.error("reloading the state failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: wait)
                wait *= 2
            }
        }
        let unavailable = StorageUnavailable(reason: "\(error)")
        let dropped = shared.withLock { shared -> [Pending] in
            switch reloaded {
            case .success(let state): shared.state = state
            case .failure(let reloadError): shared.failed = StorageUnavailable(reason: "\(reloadError)")
            }
            defer { shared.pending.removeAll() }
            return shared.pending
        }
        for operation in batch + dropped { operation.complete(unavailable) }
    }
}
