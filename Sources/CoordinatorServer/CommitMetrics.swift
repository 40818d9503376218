import Metrics

/// The coordinator's commits in swift-metrics: operations acknowledged and refused, changes written, and
/// how long each group commit took (one per batch, not per operation).
struct CommitMetrics: Sendable {
    private let acknowledged = Counter(
        label: "partyline_coordinator_operations_total", dimensions: [("result", "committed")])
    private let refused = Counter(label: "partyline_coordinator_operations_total", dimensions: [("result", "failed")])
    private let changes = Counter(label: "partyline_coordinator_changes_total")
    private let latency = Timer(label: "partyline_coordinator_commit_seconds", preferredDisplayUnit: .seconds)

    func committed(operations: Int, changes count: Int, in duration: Duration) {
        acknowledged.increment(by: operations)
        changes.increment(by: count)
        latency.recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    func failed(operations: Int) { refused.increment(by: operations) }
}
