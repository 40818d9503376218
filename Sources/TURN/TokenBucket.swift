import STUN

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

/// Per-IP request limits (not data): each client IP may send `burst` TURN requests at once and `rate` a
/// second after that; the rest are dropped unanswered before any cryptography is spent on them. A
/// carrier-grade NAT puts many phones behind one IP, so the defaults are generous.
public struct RequestRateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    private var buckets: [IPAddress: TokenBucket] = [:]
    /// Requests refused so far.
    public private(set) var refused = 0

    /// The most client IPs tracked; beyond it, idle ones are forgotten first and new ones wait for room.
    public static let maxTracked = 100_000

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// Whether a request from `ip` at `now` is within its limit.
    public mutating func allow(_ ip: IPAddress, now: TokenBucket.Instant) -> Bool {
        if buckets[ip] == nil {
            if buckets.count >= Self.maxTracked { sweep(now: now) }
            guard buckets.count < Self.maxTracked else {
                refused += 1
                return false
            }
            buckets[ip] = TokenBucket(rate: rate, burst: burst, now: now)
        }
        if buckets[ip]!.take(now: now) { return true }
        refused += 1
        return false
    }

    /// Forgets the buckets of clients that have been quiet long enough to be full again.
    public mutating func sweep(now: TokenBucket.Instant) {
        buckets = buckets.filter { !$0.value.isFull(now: now) }
    }

    /// Client IPs tracked now.
    public var tracked: Int { buckets.count }
}
