/// Open connections counted in total and per source, against two caps. A plain value: the caller holds
/// it under a lock and passes every open and close.
public struct ConnectionTally: Sendable {
    /// The caps; 0 means no cap.
    public struct Limits: Hashable, Sendable {
        public var total: Int
        public var perSource: Int

        public init(total: Int, perSource: Int) {
            self.total = total
            self.perSource = perSource
        }
    }

    /// Why a connection was refused.
    public enum Refusal: String, Sendable, Hashable {
        case total = "total connection cap"
        case perSource = "per-address connection cap"
    }

    public let limits: Limits
    public private(set) var total = 0
    private var bySource: [ConnectionSource: Int] = [:]

    public init(limits: Limits) { self.limits = limits }

    /// Open connections from `source`.
    public func count(from source: ConnectionSource) -> Int { bySource[source, default: 0] }

    /// Counts a new connection from `source`, or refuses it (and counts nothing).
    public mutating func open(from source: ConnectionSource) -> Refusal? {
        if limits.total > 0 && total >= limits.total { return .total }
        let current = bySource[source, default: 0]
        if limits.perSource > 0 && current >= limits.perSource { return .perSource }
        bySource[source] = current + 1
        total += 1
        return nil
    }

    /// Forgets a connection ``open(from:)`` counted.
    public mutating func close(from source: ConnectionSource) {
        guard let current = bySource[source] else { return }
        bySource[source] = current > 1 ? current - 1 : nil
        total -= 1
    }
}
