import NIOCore
import STUN
import TURN
import Testing

/// RFC 6062 TCP allocations in the table: Connect, ConnectionAttempt, ConnectionBind and their timers.
extension AllocationTableTests {
    var control: FiveTuple {
        FiveTuple(client: client.client, server: client.server, transport: .tcp)
    }

    func dataConnection(_ port: UInt16) -> FiveTuple {
        FiveTuple(client: TransportAddress(ip: client.client.ip, port: port), server: client.server, transport: .tcp)
    }

    /// A TCP allocation on the control connection, with a permission for `peer`.
    func tcpAllocation(_ table: inout AllocationTable) throws {
        let view = try request(.allocate, [.requestedTransport(6)], table: table, from: control)
        let opened = table.handle(view, from: control, now: start, unixTime: unixTime)
        guard case .openRelay(let pending) = try #require(opened.first) else {
            Issue.record("no relay opened")
            return
        }
        #expect(pending.relayedTransport == .tcp)
        #expect(
            try response(table.relayOpened(pending, relayed: relayed, now: start)).type.messageClass == .successResponse
        )
        let permission = try request(.createPermission, [.xorPeerAddress(peer)], table: table, from: control)
        #expect(
            try response(table.handle(permission, from: control, now: start, unixTime: unixTime)).type.messageClass
                == .successResponse)
    }

    func send(
        _ method: STUNMethod, _ attributes: [STUNAttribute], table: inout AllocationTable, from fiveTuple: FiveTuple,
        as user: (String, String) = ("alice", "wonderland"), now: ContinuousClock.Instant? = nil
    ) throws -> [AllocationTable.Action] {
        table.handle(
            try request(method, attributes, table: table, as: user, from: fiveTuple), from: fiveTuple,
            now: now ?? start, unixTime: unixTime)
    }

    @Test("Connect: the relay connects, the client gets a CONNECTION-ID and binds it on a new connection")
    func connectAndBind() throws {
        var table = makeTable()
        try tcpAllocation(&table)
        let actions = try send(.connect, [.xorPeerAddress(peer)], table: &table, from: control)
        guard case .connectPeer(let id, let relay, let target) = try #require(actions.first) else {
            Issue.record("no connect: \(actions)")
            return
        }
        #expect(relay == relayed && target == peer && id != 0)
        #expect(
            try response(try send(.connect, [.xorPeerAddress(peer)], table: &table, from: control)).errorCode?.code
                == 446)
        let connected = try response(table.peerConnected(id: id, now: start))
        #expect(connected.attribute(.connectionID) == .connectionID(id))

        let data = dataConnection(41000)
        let bound = try send(.connectionBind, [.connectionID(id)], table: &table, from: data)
        #expect(try response(bound).type.messageClass == .successResponse)
        #expect(bound.contains { if case .bindConnection(id, data) = $0 { true } else { false } })
        // A second bind of the same connection, or an unknown ID, is 400.
        #expect(
            try response(try send(.connectionBind, [.connectionID(id)], table: &table, from: dataConnection(41001)))
                .errorCode?.code == 400)
        #expect(
            try response(try send(.connectionBind, [.connectionID(id ^ 1)], table: &table, from: dataConnection(41002)))
                .errorCode?.code == 400)
        // Closing the data connection closes the peer connection.
        let closed = table.connectionClosed(data)
        #expect(closed.contains { if case .closeConnection(id) = $0 { true } else { false } })
        #expect(table.connections.isEmpty)
    }

    @Test(
        "Connect errors: 437 without an allocation, 400 on UDP allocations, 447 when the relay cannot connect; other users get 441"
    )
    func connectErrors() throws {
        var table = makeTable()
        #expect(
            try response(try send(.connect, [.xorPeerAddress(peer)], table: &table, from: control)).errorCode?.code
                == 437)
        try allocate(&table)
        #expect(
            try response(try send(.connect, [.xorPeerAddress(peer)], table: &table, from: client)).errorCode?.code
                == 400)
        var tcp = makeTable()
        try tcpAllocation(&tcp)
        #expect(
            try response(
                try send(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(peer)], table: &tcp, from: control)
            ).errorCode?.code == 400)
        let first = try send(.connect, [.xorPeerAddress(peer)], table: &tcp, from: control)
        guard case .connectPeer(let id, _, _) = try #require(first.first) else { return }
        #expect(try response(tcp.peerConnectFailed(id: id)).errorCode?.code == 447)
        let second = try send(.connect, [.xorPeerAddress(peer)], table: &tcp, from: control)
        guard case .connectPeer(let again, _, _) = try #require(second.first) else { return }
        _ = tcp.peerConnected(id: again, now: start)
        let bob = try send(
            .connectionBind, [.connectionID(again)], table: &tcp, from: dataConnection(42000), as: ("bob", "builder"))
        #expect(try response(bob).errorCode?.code == 441)
    }

    @Test("an incoming peer connection needs a permission; unbound connections close after 30 seconds")
    func incomingConnections() throws {
        var table = makeTable()
        try tcpAllocation(&table)
        let stranger = TransportAddress(ip: .v4(0x0808_0404), port: 5000)
        #expect(table.peerConnectionArrived(relay: relayed, peer: stranger, now: start) == nil)
        let arrived = table.peerConnectionArrived(relay: relayed, peer: peer, now: start)
        let arrival = try #require(arrived)
        let indication = try response(arrival.actions)
        #expect(indication.type == STUNMessageType(method: .connectionAttempt, messageClass: .indication))
        #expect(indication.attribute(.connectionID) == .connectionID(arrival.id))
        #expect(indication.attribute(.xorPeerAddress) == .xorPeerAddress(peer))
        #expect(table.expire(now: start + .seconds(29)).isEmpty)
        let expired = table.expire(now: start + .seconds(30))
        #expect(expired.contains { if case .closeConnection(arrival.id) = $0 { true } else { false } })
        let late = try send(
            .connectionBind, [.connectionID(arrival.id)], table: &table, from: dataConnection(43000),
            now: start + .seconds(31))
        #expect(try response(late).errorCode?.code == 400)
    }

    @Test(
        "TCP relaying needs a stream control connection and refuses EVEN-PORT, RESERVATION-TOKEN, DONT-FRAGMENT; deleting the allocation closes its connections"
    )
    func tcpAllocateRules() throws {
        var table = makeTable()
        for extra: STUNAttribute in [.evenPort(reserveNextPort: false), .reservationToken(7), .dontFragment] {
            let refused = try send(.allocate, [.requestedTransport(6), extra], table: &table, from: control)
            #expect(try response(refused).errorCode?.code == 400)
        }
        try tcpAllocation(&table)
        let arrived = table.peerConnectionArrived(relay: relayed, peer: peer, now: start)
        let arrival = try #require(arrived)
        let deleted = try send(.refresh, [.lifetime(0)], table: &table, from: control)
        #expect(deleted.contains { if case .closeConnection(arrival.id) = $0 { true } else { false } })
        #expect(deleted.contains { if case .closeRelay(relayed) = $0 { true } else { false } })
    }
}

extension AllocationTableTests {
    @Test("peer connections per TCP allocation are capped: a Connect beyond gets 508, an incoming one is refused")
    func connectionCap() throws {
        var limits = AllocationLimits()
        limits.maxConnectionsPerAllocation = 2
        var table = makeTable(limits: limits)
        try tcpAllocation(&table)
        let second = TransportAddress(ip: peer.ip, port: peer.port + 1)
        let third = TransportAddress(ip: peer.ip, port: peer.port + 2)
        let first = try send(.connect, [.xorPeerAddress(peer)], table: &table, from: control)
        #expect(first.contains { if case .connectPeer = $0 { true } else { false } })
        let arrived = table.peerConnectionArrived(relay: relayed, peer: second, now: start)
        #expect(arrived != nil)
        #expect(
            try response(try send(.connect, [.xorPeerAddress(third)], table: &table, from: control)).errorCode?.code
                == 508)
        #expect(table.peerConnectionArrived(relay: relayed, peer: third, now: start) == nil)
        // A closed connection makes room again.
        if let arrived { _ = table.peerConnectionClosed(id: arrived.id) }
        #expect(table.peerConnectionArrived(relay: relayed, peer: third, now: start) != nil)
    }
}
