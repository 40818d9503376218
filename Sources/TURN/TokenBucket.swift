import STUN
import Synchronization

/// A token bucket: `rate` tokens a second, at most `burst` saved up. Time is passed in.
public struct TokenBucket: Sendable, Hashable {
    public typealias Instant = ContinuousClock.Instant

    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var last: Instant

    /// A full bucket.
    public init(rate: Double, burst: Double, now: Instant) {
        self.rate = rate
        self.burst = burst
        tokens = burst
        last = now
    }

    /// Takes `cost` tokens if there are that many; false (and nothing taken) otherwise.
    public mutating func take(_ cost: Double = 1, now: Instant) -> Bool {
        refill(now: now)
        guard tokens >= cost else { return false }
        tokens -= cost
        return true
    }

    /// Whether the bucket has refilled completely by `now` (an idle client's bucket can be forgotten).
    public func isFull(now: Instant) -> Bool {
        tokens + rate * elapsedSeconds(since: last, now: now) >= burst
    }

    private mutating func refill(now: Instant) {
        tokens = min(burst, tokens + rate * elapsedSeconds(since: last, now: now))
        last = max(last, now)
    }

    private func elapsedSeconds(since start: Instant, now: Instant) -> Double {
        now > start ? (now - start) / .seconds(1) : 0
    }
}

/// Per-client request limits (not data): each client `Key` may send `burst` requests at once and `rate` a
/// second after that. TURN keys by IP and drops the rest unanswered before any cryptography is spent on
/// them, with one limiter shared by every event loop's table (a client's source ports spread over loops);
/// the coordinator keys its logins by IPv4 address or IPv6 /64. A carrier-grade NAT puts many phones
/// behind one IP: the defaults are generous.
public final class RequestRateLimiter<Key: Hashable & Sendable>: Sendable {
    public let rate: Double
    public let burst: Double
    private let state = Mutex(State())

    private struct State {
        var buckets: [Key: TokenBucket] = [:]
        var refused = 0
    }

    /// The most clients tracked; beyond it, idle ones are forgotten first and new ones wait for room.
    public static var maxTracked: Int { 100_000 }

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Whether a request from `ip` at `now` is within its limit.
    public func allow(_ ip: Key, now: TokenBucket.Instant) -> Bool {
        state.withLock { state in
            if state.buckets[ip] == nil {
                if state.buckets.count >= Self.maxTracked { Self.sweep(&state, now: now) }
                guard state.buckets.count < Self.maxTracked else {
                    state.refused += 1
                    return false
                }
                state.buckets[ip] = TokenBucket(rate: rate, burst: burst, now: now)
            }
            if state.buckets[ip]!.take(now: now) { return true }
            state.refused += 1
            return false
        }
    }

    /// Forgets the buckets of clients that have been quiet long enough to be full again.
    public func sweep(now: TokenBucket.Instant) {
        state.withLock { Self.sweep(&$0, now: now) }
    }

    private static func sweep(_ state: inout State, now: TokenBucket.Instant) {
        state.buckets = state.buckets.filter { !$0.value.isFull(now: now) }
    }

    /// Requests refused so far.
    public var refused: Int { state.withLock { $0.refused } }

    /// Clients tracked now.
    public var tracked: Int { state.withLock { $0.buckets.count } }
}
