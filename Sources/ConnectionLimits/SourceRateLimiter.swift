import NIOConcurrencyHelpers
import NIOCore

/// A token bucket per source address (IPv4 address or IPv6 /64): `rate` calls a second with a burst of
/// `burst`, for calls that are cheap to make and costly to serve (logins). Buckets that have refilled are
/// forgotten when the table grows, so memory is bounded by the sources active within one refill time.
public final class SourceRateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    private let buckets = NIOLockedValueBox<[ConnectionSource: Bucket]>([:])
    /// Table size at which full buckets are swept.
    private static let sweepThreshold = 4096

    private struct Bucket {
        var tokens: Double
        var last: ContinuousClock.Instant
    }

    /// `rate` 0 turns the limit off.
    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = max(1, burst)
    }

    /// Takes one token for `address`; false when its bucket is empty. Unix sockets are not limited.
    public func allow(_ address: SocketAddress?, now: ContinuousClock.Instant = .now) -> Bool {
        guard rate > 0, let address, let source = ConnectionSource(address) else { return true }
        return buckets.withLockedValue { buckets in
            if buckets.count >= Self.sweepThreshold {
                buckets = buckets.filter { refilled($0.value, now: now).tokens < burst }
            }
            var bucket = refilled(buckets[source] ?? Bucket(tokens: burst, last: now), now: now)
            defer { buckets[source] = bucket }
            guard bucket.tokens >= 1 else { return false }
            bucket.tokens -= 1
            return true
        }
    }

    /// Sources with a bucket now (for tests and metrics).
    public var trackedSources: Int { buckets.withLockedValue { $0.count } }

    private func refilled(_ bucket: Bucket, now: ContinuousClock.Instant) -> Bucket {
        let elapsed = now > bucket.last ? (now - bucket.last) / .seconds(1) : 0
        return Bucket(tokens: min(burst, bucket.tokens + elapsed * rate), last: max(bucket.last, now))
    }
}
