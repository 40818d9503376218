import STUN

/// Fields are read directly, not through methods of `self`: a method call on an `inout self` may copy the
/// whole allocation to pass it.
extension AllocationTable.Allocation {
    /// How a peer datagram admitted by ``admitPeerData(from:bytes:now:)`` reaches the client.
    enum PeerDelivery {
        case channel(UInt16)
        case dataIndication
    }

    /// The checks of a client's ChannelData (RFC 8656 §12.6), bandwidth taken: the channel's peer and the
    /// relayed address that reaches it, or nil to drop. Called as `allocations.values[index].admitChannelData(…)`,
    /// which works on the dictionary's storage in place (no Optional in between): reading the allocation out
    /// would copy it, and retain everything it holds, for every packet.
    mutating func admitChannelData(on channel: UInt16, bytes: Int, now: ContinuousClock.Instant) -> (
        peer: TransportAddress, relay: TransportAddress
    )? {
        guard now < expires, let peer = bindings.peer(onChannel: channel, now: now),
            bindings.hasPermission(for: peer.ip, now: now),
            let relay = relayedAddresses.first(where: { $0.ip.family == peer.ip.family }),
            bandwidth == nil || bandwidth!.take(Double(bytes), now: now)
        else { return nil }
        return (peer, relay)
    }

    /// The checks of a client's Send indication to `peer` (RFC 8656 §11.2), in place like
    /// ``admitChannelData(on:bytes:now:)``: the relayed address that reaches it, or nil to drop.
    mutating func admitSend(to peer: TransportAddress, bytes: Int, now: ContinuousClock.Instant) -> TransportAddress? {
        guard now < expires, relayedTransport == .udp,
            let relay = relayedAddresses.first(where: { $0.ip.family == peer.ip.family }),
            bindings.hasPermission(for: peer.ip, now: now),
            bandwidth == nil || bandwidth!.take(Double(bytes), now: now)
        else { return nil }
        return relay
    }

    /// The checks of a datagram from `peer` (RFC 8656 §11.3, §12.7), bandwidth taken, in place like
    /// ``admitChannelData(on:bytes:now:)``: its channel, a Data indication, or nil to drop.
    mutating func admitPeerData(from peer: TransportAddress, bytes: Int, now: ContinuousClock.Instant)
        -> PeerDelivery?
    {
        guard now < expires, bindings.hasPermission(for: peer.ip, now: now),
            bandwidth == nil || bandwidth!.take(Double(bytes), now: now)
        else { return nil }
        return bindings.channel(forPeer: peer, now: now).map { .channel($0) } ?? .dataIndication
    }
}
