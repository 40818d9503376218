import Atomics

/// Counters of one event loop's TURN relay; written by that loop only, read by
/// ``RelayServer/relayStatistics()``.
final class RelayCounters: Sendable {
    let requests = ManagedAtomic<Int>(0)
    let toPeers = ManagedAtomic<Int>(0)
    let toClients = ManagedAtomic<Int>(0)
    let dropped = ManagedAtomic<Int>(0)
    let malformedChannelData = ManagedAtomic<Int>(0)
    let relaySocketFailures = ManagedAtomic<Int>(0)
    let coalescedWrites = ManagedAtomic<Int>(0)
    let droppedForSlowClients = ManagedAtomic<Int>(0)

    var snapshot: RelayStatistics {
        RelayStatistics(
            requests: requests.load(ordering: .relaxed), toPeers: toPeers.load(ordering: .relaxed),
            toClients: toClients.load(ordering: .relaxed), dropped: dropped.load(ordering: .relaxed),
            malformedChannelData: malformedChannelData.load(ordering: .relaxed),
            relaySocketFailures: relaySocketFailures.load(ordering: .relaxed),
            coalescedWrites: coalescedWrites.load(ordering: .relaxed),
            droppedForSlowClients: droppedForSlowClients.load(ordering: .relaxed))
    }
}

/// What the TURN relay has done, summed over event loops.
public struct RelayStatistics: Hashable, Sendable {
    /// TURN requests handled (Allocate, Refresh, CreatePermission, ChannelBind), answered or not.
    public var requests = 0
    /// Datagrams sent from relay sockets to peers (Send indications and ChannelData).
    public var toPeers = 0
    /// Data indications and ChannelData sent to clients.
    public var toClients = 0
    /// Data without an allocation, permission or channel: dropped (RFC 8656 §11, §12).
    public var dropped = 0
    /// ChannelData that does not decode: dropped.
    public var malformedChannelData = 0
    /// Relay sockets that could not be bound.
    public var relaySocketFailures = 0
    /// Writes that carried several messages for one client (a UDP GSO write, or one stream write).
    public var coalescedWrites = 0
    /// Relayed data for a TCP or TLS client whose outbound buffer was full: dropped, as UDP would.
    public var droppedForSlowClients = 0
    /// Allocations live or waiting for their relay socket.
    public var allocations = 0

    static func + (lhs: Self, rhs: Self) -> Self {
        RelayStatistics(
            requests: lhs.requests + rhs.requests, toPeers: lhs.toPeers + rhs.toPeers,
            toClients: lhs.toClients + rhs.toClients, dropped: lhs.dropped + rhs.dropped,
            malformedChannelData: lhs.malformedChannelData + rhs.malformedChannelData,
            relaySocketFailures: lhs.relaySocketFailures + rhs.relaySocketFailures,
            coalescedWrites: lhs.coalescedWrites + rhs.coalescedWrites,
            droppedForSlowClients: lhs.droppedForSlowClients + rhs.droppedForSlowClients,
            allocations: lhs.allocations + rhs.allocations)
    }
}
