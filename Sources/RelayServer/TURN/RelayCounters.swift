import Atomics
import TURN

/// Counters of one event loop's TURN relay; written by that loop only, read by
/// ``RelayServer/relayStatistics()``.
final class RelayCounters: Sendable {
    let requests = ManagedAtomic<Int>(0)
    /// Packets and bytes relayed, indexed by ``RelayedTraffic/index(_:_:)``.
    private let packets = (0..<RelayedTraffic.slots).map { _ in ManagedAtomic<Int>(0) }
    private let bytes = (0..<RelayedTraffic.slots).map { _ in ManagedAtomic<Int>(0) }
    let dropped = ManagedAtomic<Int>(0)
    let malformedChannelData = ManagedAtomic<Int>(0)
    let relaySocketFailures = ManagedAtomic<Int>(0)
    let coalescedWrites = ManagedAtomic<Int>(0)
    let droppedForSlowClients = ManagedAtomic<Int>(0)

    /// One datagram or frame relayed: two uncontended relaxed increments on this loop's counters.
    @inline(__always)
    func relayed(_ direction: RelayedTraffic.Direction, _ transport: ClientTransport, bytes count: Int) {
        let index = RelayedTraffic.index(direction, transport)
        packets[index].wrappingIncrement(ordering: .relaxed)
        bytes[index].wrappingIncrement(by: count, ordering: .relaxed)
    }

    var snapshot: RelayStatistics {
        var traffic = RelayedTraffic()
        for index in 0..<RelayedTraffic.slots {
            traffic.packets[index] = packets[index].load(ordering: .relaxed)
            traffic.bytes[index] = bytes[index].load(ordering: .relaxed)
        }
        return RelayStatistics(
            requests: requests.load(ordering: .relaxed), traffic: traffic, dropped: dropped.load(ordering: .relaxed),
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
    /// Packets and bytes relayed, by direction and the client's transport.
    public var traffic = RelayedTraffic()
    /// Datagrams sent from relay sockets to peers (Send indications and ChannelData).
    public var toPeers: Int { traffic.packets(.toPeer) }
    /// Data indications and ChannelData sent to clients.
    public var toClients: Int { traffic.packets(.toClient) }
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
            requests: lhs.requests + rhs.requests, traffic: lhs.traffic + rhs.traffic,
            dropped: lhs.dropped + rhs.dropped,
            malformedChannelData: lhs.malformedChannelData + rhs.malformedChannelData,
            relaySocketFailures: lhs.relaySocketFailures + rhs.relaySocketFailures,
            coalescedWrites: lhs.coalescedWrites + rhs.coalescedWrites,
            droppedForSlowClients: lhs.droppedForSlowClients + rhs.droppedForSlowClients,
            allocations: lhs.allocations + rhs.allocations)
    }
}

/// Relayed packets and bytes by direction (client to peer, peer to client) and the client's transport.
public struct RelayedTraffic: Hashable, Sendable {
    public enum Direction: String, Hashable, Sendable, CaseIterable {
        case toPeer = "to-peer"
        case toClient = "to-client"
    }

    public static let transports: [ClientTransport] = [.udp, .tcp, .tls]
    static let slots = 2 * transports.count

    @inline(__always)
    static func index(_ direction: Direction, _ transport: ClientTransport) -> Int {
        let column: Int
        switch transport {
        case .udp: column = 0
        case .tcp: column = 1
        case .tls: column = 2
        }
        return (direction == .toPeer ? 0 : 3) + column
    }

    var packets = [Int](repeating: 0, count: slots)
    var bytes = [Int](repeating: 0, count: slots)

    public init() {}

    public func packets(_ direction: Direction, _ transport: ClientTransport? = nil) -> Int {
        sum(packets, direction, transport)
    }

    public func bytes(_ direction: Direction, _ transport: ClientTransport? = nil) -> Int {
        sum(bytes, direction, transport)
    }

    private func sum(_ values: [Int], _ direction: Direction, _ transport: ClientTransport?) -> Int {
        (transport.map { [$0] } ?? Self.transports).reduce(0) { $0 + values[Self.index(direction, $1)] }
    }

    static func + (lhs: Self, rhs: Self) -> Self {
        var sum = lhs
        for index in 0..<slots {
            sum.packets[index] += rhs.packets[index]
            sum.bytes[index] += rhs.bytes[index]
        }
        return sum
    }
}

/// What the metrics endpoint reports about STUN and TURN.
public struct RelayMetrics: Sendable {
    /// STUN messages and stream connections per listener transport.
    public var listeners: TrafficStatistics
    public var relay = RelayStatistics()
    /// TURN requests by method and answer, and authentication refusals by reason.
    public var requests = TURNRequestStatistics()
    /// Live permissions and channels over every allocation.
    public var permissions = 0
    public var channels = 0
}
