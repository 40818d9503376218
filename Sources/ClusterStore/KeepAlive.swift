import SQLKit
import Synchronization

/// Guards for connections that must notice a peer that vanished.
enum KeepAlive {
    /// TCP keepalives for this PostgreSQL session, on the server's side: a client whose host crashed or whose
    /// network was cut is noticed in about 25 s, and its session (with its locks) ended.
    static let statements = [
        "SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5", "SET tcp_keepalives_count = 3",
    ]

    static func set(on database: any SQLDatabase) async throws {
        for statement in statements { try await database.raw(SQLQueryString(statement)).run() }
    }

    /// A call that took longer than it may.
    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "the database did not answer in time" }
    }

    /// `body`'s result, or ``TimedOut`` once `limit` has passed. A PostgreSQL query does not stop when its
    /// task is cancelled, so `body` runs on in the background; the caller closes the connection under it.
    static func within<T: Sendable>(
        _ limit: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let waiter = Waiter<T>()
        return try await withCheckedThrowingContinuation { continuation in
            waiter.slot.withLock { $0 = continuation }
            Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                waiter.resume(with: result)
            }
            Task {
                try? await Task.sleep(for: limit)
                waiter.resume(with: .failure(TimedOut()))
            }
        }
    }

    /// The continuation both racers try to resume; the first takes it.
    private final class Waiter<T: Sendable>: Sendable {
        let slot = Mutex<CheckedContinuation<T, any Error>?>(nil)

        func resume(with result: Result<T, any Error>) {
            slot.withLock { $0.take() }?.resume(with: result)
        }
    }
}
