import STUN
import Synchronization

/// Allocation counts shared by every event loop's ``AllocationTable``: the per-owner quota (486) and the
/// server-wide capacity (508) hold across loops. Touched on Allocate and on deletion only, never per
/// packet.
public final class AllocationLedger: Sendable {
    public let maxPerOwner: Int
    public let maxTotal: Int
    private let counts = Mutex(Counts())

    private struct Counts {
        var total = 0
        var byOwner: [String: Int] = [:]
    }

    public init(maxPerOwner: Int = 10, maxTotal: Int = 10_000) {
        self.maxPerOwner = maxPerOwner
        self.maxTotal = maxTotal
    }

    /// Counts one more allocation for `owner`, or says which limit refuses it.
    func reserve(owner: String) -> STUNErrorCode? {
        counts.withLock { counts in
            if counts.byOwner[owner, default: 0] >= maxPerOwner { return .allocationQuotaReached }
            if counts.total >= maxTotal { return .insufficientCapacity }
            counts.total += 1
            counts.byOwner[owner, default: 0] += 1
            return nil
        }
    }

    /// Forgets one allocation of `owner`.
    func release(owner: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.byOwner[owner, default: 1] - 1
            counts.byOwner[owner] = left > 0 ? left : nil
        }
    }

    /// Allocations counted now, pending ones included.
    public var total: Int { counts.withLock { $0.total } }
}
