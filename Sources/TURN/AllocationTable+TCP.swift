import NIOCore
import STUN

/// RFC 6062: TCP relay allocations. The relayed address listens for peers; a Connect makes the relay
/// connect to a peer; every peer connection gets a CONNECTION-ID, which the client binds to a new TCP
/// (or TLS) data connection with ConnectionBind within 30 seconds. Bound pairs are raw byte pipes the
/// driver runs; the table only decides and keeps the bookkeeping.
extension AllocationTable {
    /// One TCP connection between a relayed address and a peer.
    public struct PeerConnection: Sendable {
        public enum State: Sendable, Equatable {
            /// The relay is connecting to the peer for a Connect request.
            case connecting
            /// Connected; the client has until then to bind it to a data connection.
            case awaitingBind(until: Instant)
            /// Joined to the client's data connection.
            case bound(data: FiveTuple)
        }

        public let id: UInt32
        /// The control connection's 5-tuple: the allocation.
        public let allocation: FiveTuple
        public let relay: TransportAddress
        public let peer: TransportAddress
        public internal(set) var state: State
    }

    /// How long a peer connection waits for its ConnectionBind, and at least how long a Connect may take
    /// (RFC 6062 §5.2, §5.3).
    public static let connectionBindTimeout: Duration = .seconds(30)

    /// RFC 6062 §5.2.
    mutating func connect(_ message: STUNMessage, reply: Reply, fiveTuple: FiveTuple, now: Instant) -> [Action] {
        guard let allocation = live(fiveTuple, now: now) else { return [reply.error(.allocationMismatch)] }
        guard allocation.relayedTransport == .tcp else { return [reply.error(.badRequest)] }
        guard case .xorPeerAddress(let peer) = message.attribute(.xorPeerAddress) else {
            return [reply.error(.badRequest)]
        }
        guard let relay = allocation.relayed(for: peer.ip.family) else {
            return [reply.error(.peerAddressFamilyMismatch)]
        }
        if let refusal = peerPolicy.refusal(for: peer, transport: .tcp) {
            return [reply.error(.forbidden), .peerRefused(client: fiveTuple, peer: "\(peer)", refusal)]
        }
        if hasConnection(of: fiveTuple, to: peer) { return [reply.error(.connectionAlreadyExists)] }
        guard connectionsByAllocation[fiveTuple, default: []].count < limits.maxConnectionsPerAllocation else {
            return [reply.error(.insufficientCapacity)]
        }
        let id = newConnectionID()
        add(PeerConnection(id: id, allocation: fiveTuple, relay: relay, peer: peer, state: .connecting))
        connectReplies[id] = reply
        return [.connectPeer(id: id, relay: relay, peer: peer)]
    }

    /// The driver's connection for a Connect is up: the client gets the CONNECTION-ID and 30 seconds to
    /// bind it. Returns nothing (and the driver closes the connection) if the allocation went meanwhile.
    public mutating func peerConnected(id: UInt32, now: Instant) -> [Action] {
        guard let reply = connectReplies.removeValue(forKey: id), connections[id]?.state == .connecting else {
            return [.closeConnection(id: id)]
        }
        connections[id]?.state = .awaitingBind(until: now + Self.connectionBindTimeout)
        return [reply.success([.connectionID(id)])]
    }

    /// The driver could not connect for a Connect: 447.
    public mutating func peerConnectFailed(id: UInt32) -> [Action] {
        let reply = connectReplies[id]
        removeConnection(id)
        return reply.map { [$0.error(.connectionTimeoutOrFailure)] } ?? []
    }

    /// A peer connected to the relayed address `relay` (RFC 6062 §5.3). With a permission for its IP, it
    /// gets a CONNECTION-ID and the client a ConnectionAttempt indication; without, nil: close it.
    public mutating func peerConnectionArrived(relay: TransportAddress, peer: TransportAddress, now: Instant)
        -> (id: UInt32, actions: [Action])?
    {
        guard let fiveTuple = byRelay[relay], let allocation = live(fiveTuple, now: now),
            allocation.relayedTransport == .tcp, allocation.bindings.hasPermission(for: peer.ip, now: now),
            !hasConnection(of: fiveTuple, to: peer),
            connectionsByAllocation[fiveTuple, default: []].count < limits.maxConnectionsPerAllocation
        else { return nil }
        let id = newConnectionID()
        add(
            PeerConnection(
                id: id, allocation: fiveTuple, relay: relay, peer: peer,
                state: .awaitingBind(until: now + Self.connectionBindTimeout)))
        let indication = STUNMessage(
            type: STUNMessageType(method: .connectionAttempt, messageClass: .indication),
            attributes: [.xorPeerAddress(peer), .connectionID(id), .software(software)]
        ).encoded(fingerprint: true)
        return (id, [.toClient(fiveTuple, indication)])
    }

    /// RFC 6062 §5.4: on a new connection, with the allocation owner's credentials.
    mutating func connectionBind(
        _ message: STUNMessage, identity: TURNAuthenticator.Identity, reply: Reply, fiveTuple: FiveTuple, now: Instant
    ) -> [Action] {
        guard fiveTuple.transport != .udp, allocations[fiveTuple] == nil, pending[fiveTuple] == nil,
            connectionByData[fiveTuple] == nil,
            case .connectionID(let id) = message.attribute(.connectionID), let connection = connections[id],
            case .awaitingBind(let until) = connection.state, now < until,
            let allocation = live(connection.allocation, now: now)
        else { return [reply.error(.badRequest)] }
        guard allocation.identity.username == identity.username else { return [reply.error(.wrongCredentials)] }
        connections[id]?.state = .bound(data: fiveTuple)
        connectionByData[fiveTuple] = id
        return [reply.success([]), .bindConnection(id: id, data: fiveTuple)]
    }

    /// The peer side of a connection closed: the table forgets it (the driver closes the data side).
    public mutating func peerConnectionClosed(id: UInt32) -> [Action] {
        let reply = connectReplies[id]
        guard removeConnection(id) != nil else { return [] }
        return reply.map { [$0.error(.connectionTimeoutOrFailure)] } ?? []
    }

    /// Closes the connections of allocation `fiveTuple`.
    mutating func closeConnections(ofAllocation fiveTuple: FiveTuple) -> [Action] {
        (connectionsByAllocation[fiveTuple] ?? []).map { id in
            removeConnection(id)
            return .closeConnection(id: id)
        }
    }

    /// Closes the connection bound to data connection `fiveTuple`, if any.
    mutating func closeConnection(boundTo fiveTuple: FiveTuple) -> [Action] {
        guard let id = connectionByData[fiveTuple] else { return [] }
        removeConnection(id)
        return [.closeConnection(id: id)]
    }

    /// Peer connections whose ConnectionBind did not come in time.
    mutating func expireConnections(now: Instant) -> [Action] {
        let late = connections.values.filter { connection in
            if case .awaitingBind(let until) = connection.state { return until <= now }
            return false
        }
        return late.map { connection in
            removeConnection(connection.id)
            return .closeConnection(id: connection.id)
        }
    }

    private func hasConnection(of fiveTuple: FiveTuple, to peer: TransportAddress) -> Bool {
        connectionsByAllocation[fiveTuple]?.contains { connections[$0]?.peer == peer } ?? false
    }

    private mutating func add(_ connection: PeerConnection) {
        connections[connection.id] = connection
        connectionsByAllocation[connection.allocation, default: []].insert(connection.id)
    }

    @discardableResult
    private mutating func removeConnection(_ id: UInt32) -> PeerConnection? {
        guard let connection = connections.removeValue(forKey: id) else { return nil }
        connectReplies[id] = nil
        connectionsByAllocation[connection.allocation]?.remove(id)
        if connectionsByAllocation[connection.allocation]?.isEmpty == true {
            connectionsByAllocation[connection.allocation] = nil
        }
        if case .bound(let data) = connection.state { connectionByData[data] = nil }
        return connection
    }

    /// Whether an Allocate on `fiveTuple` waits for its relay socket.
    public func hasPendingAllocation(_ fiveTuple: FiveTuple) -> Bool { pending[fiveTuple] != nil }

    /// A fresh, non-zero CONNECTION-ID whose top byte is this table's ``connectionIDPrefix``, so a
    /// ConnectionBind that lands on another event loop finds the table that owns it.
    private mutating func newConnectionID() -> UInt32 {
        while true {
            let id = UInt32(connectionIDPrefix) << 24 | UInt32.random(in: 1...0x00FF_FFFF)
            if connections[id] == nil { return id }
        }
    }
}
