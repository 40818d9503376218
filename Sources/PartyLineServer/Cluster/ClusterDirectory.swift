import Cluster
import ClusterStore
import Synchronization

/// The cluster's node table as this node last read it, shared by everything that asks where the coordinator
/// is or where a session goes: read again when older than `maximumAge`, or at once when a caller found the
/// node it named gone.
final class ClusterDirectory: Sendable {
    private let table: NodeTable
    private let deadAfterMilliseconds: Int64
    private let maximumAge: Duration
    private let cached = Mutex<(directory: NodeDirectory, read: ContinuousClock.Instant)?>(nil)

    init(table: NodeTable, deadAfter: Duration, maximumAge: Duration) {
        self.table = table
        deadAfterMilliseconds = Int64(deadAfter / .milliseconds(1))
        self.maximumAge = maximumAge
    }

    /// The nodes, and when they were read (a new read is a new instant).
    func read(fresh: Bool = false) async throws -> (directory: NodeDirectory, read: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        if !fresh, let cached = cached.withLock({ $0 }), now - cached.read < maximumAge { return cached }
        let directory = NodeDirectory(nodes: try await table.nodes(), deadAfterMilliseconds: deadAfterMilliseconds)
        cached.withLock { $0 = (directory, now) }
        return (directory, now)
    }

    /// The nodes as last read, without reading; nil before the first read.
    var last: NodeDirectory? { cached.withLock { $0?.directory } }

    /// The node holding the coordinator; nil while none does or the table cannot be read.
    func holder(fresh: Bool = false) async -> NodeRecord? {
        try? await read(fresh: fresh).directory.coordinator
    }
}
