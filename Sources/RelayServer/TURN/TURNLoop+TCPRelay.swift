import Atomics
import NIOCore
import NIOPosix
import STUN
import TURN

/// RFC 6062 in the driver: TCP relay listeners, connections to and from peers, and the ConnectionBind
/// that turns a client's data connection into a pipe to one of them. A ConnectionBind may arrive on
/// any event loop (the kernel spreads new connections); the CONNECTION-ID's top byte names the loop whose
/// table owns the peer connection, and the request is handled there.
extension TURNLoop {
    /// Opens the listening socket of a TCP relayed address (SO_REUSEPORT, so connections to peers can be
    /// made from the same address and port).
    func listenTCPRelay(_ host: RelayHost, attempts: Int, choose: @escaping (Instant) -> UInt16?)
        -> EventLoopFuture<TransportAddress?>
    {
        guard attempts > 0, let port = choose(.now) else {
            counters.relaySocketFailures.wrappingIncrement(ordering: .relaxed)
            return eventLoop.makeSucceededFuture(nil)
        }
        let address = TransportAddress(ip: host.advertised, port: port)
        let local = TransportAddress(ip: host.ip, port: port)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let retry = NIOLoopBound(choose, eventLoop: eventLoop)
        // SO_REUSEPORT would let the listener share a port another process (or server) holds; a plain
        // listener bound first proves the port free.
        return ServerBootstrap(group: eventLoop).bind(to: local.socketAddress)
            .flatMap { probe in probe.close() }
            .flatMap { bound.value.bindTCPRelayListener(local, advertised: address) }
            .map { channel -> TransportAddress? in
                bound.value.relays[address] = RelaySocket(address: address, channel: channel)
                return address
            }
            .flatMapError { _ in
                host.pool.give(port)
                return bound.value.listenTCPRelay(host, attempts: attempts - 1, choose: retry.value)
            }
    }

    private func bindTCPRelayListener(_ local: TransportAddress, advertised address: TransportAddress)
        -> EventLoopFuture<any Channel>
    {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return ServerBootstrap(group: eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(RelayServer.reusePort, value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try bound.value.peerConnectionArrived(child, relay: address)
                }
            }
            .bind(to: local.socketAddress)
    }

    /// A peer connected to a TCP relayed address: accepted with a CONNECTION-ID when the table allows it.
    private func peerConnectionArrived(_ child: any Channel, relay: TransportAddress) throws {
        guard let peer = child.remoteAddress.flatMap(TransportAddress.init),
            let (id, actions) = table.peerConnectionArrived(relay: relay, peer: peer, now: .now)
        else {
            throw ChannelError.inputClosed
        }
        try addPeerHandler(to: child, id: id)
        perform(actions)
        flush()
    }

    /// RFC 6062 §5.2: connects from `relay` to `peer` for a Connect request.
    func connectPeer(id: UInt32, relay: TransportAddress, peer: TransportAddress) {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let local = TransportAddress(ip: relayHosts[relay.ip.family]?.ip ?? relay.ip, port: relay.port)
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(RelayServer.reusePort, value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(TimeAmount(AllocationTable.connectionBindTimeout))
            .bind(to: local.socketAddress)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try bound.value.addPeerHandler(to: channel, id: id) }
            }
            .connect(to: peer.socketAddress)
            .whenComplete { result in
                let turn = bound.value
                switch result {
                case .success: turn.perform(turn.table.peerConnected(id: id, now: .now))
                case .failure:
                    // A channel that never became active fires no channelInactive: forget it here.
                    turn.peerConnections[id] = nil
                    turn.perform(turn.table.peerConnectFailed(id: id))
                }
                turn.flush()
            }
    }

    private func addPeerHandler(to channel: any Channel, id: UInt32) throws {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let handler = SpliceHandler {
            let turn = bound.value
            turn.peerConnections[id] = nil
            turn.perform(turn.table.peerConnectionClosed(id: id))
            turn.flush()
        }
        try channel.pipeline.syncOperations.addHandler(handler)
        peerConnections[id] = (channel, handler)
    }

    /// Closes peer connection `id` (its pipe partner follows).
    func closeConnection(id: UInt32) {
        peerConnections.removeValue(forKey: id)?.channel.close(promise: nil)
    }

    /// A ConnectionBind on `fiveTuple` (this loop's connection `dataChannel`): decided by the loop that
    /// owns the CONNECTION-ID; on success this connection's STUN framing gives way to a pipe.
    func connectionBind(_ view: STUNMessageView, from fiveTuple: FiveTuple, dataChannel: any Channel) {
        // A connection with an allocation (or one being made) is no data connection: this loop's table
        // answers 400. While a bind is decided, the connection reads nothing more.
        guard table.allocations[fiveTuple] == nil, !table.hasPendingAllocation(fiveTuple),
            !bindsInFlight.contains(fiveTuple)
        else {
            perform(table.handle(view, from: fiveTuple, now: .now, unixTime: Self.unixTime()))
            return flush()
        }
        bindsInFlight.insert(fiveTuple)
        dataChannel.setOption(.autoRead, value: false).whenComplete { _ in }
        let owner: NIOLoopBound<TURNLoop>
        if case .connectionID(let id)? = (try? view.decode())?.attribute(.connectionID),
            let sibling = siblings[Int(id >> 24)]
        {
            owner = sibling
        } else {
            owner = NIOLoopBound(self, eventLoop: eventLoop)
        }
        let here = NIOLoopBound(self, eventLoop: eventLoop)
        owner.eventLoop.submit {
            owner.value.decideConnectionBind(view, from: fiveTuple, owner: owner)
        }.hop(to: eventLoop).whenSuccess { decision in
            here.value.completeConnectionBind(decision, fiveTuple: fiveTuple, dataChannel: dataChannel)
        }
    }

    /// What the owning loop decided: the response, and on success the peer connection to join.
    struct ConnectionBindDecision: Sendable {
        var response: ByteBuffer?
        var peer: (id: UInt32, channel: any Channel, owner: NIOLoopBound<TURNLoop>)?
    }

    private func decideConnectionBind(
        _ view: STUNMessageView, from fiveTuple: FiveTuple, owner: NIOLoopBound<TURNLoop>
    ) -> ConnectionBindDecision {
        counters.requests.wrappingIncrement(ordering: .relaxed)
        var decision = ConnectionBindDecision()
        for action in table.handle(view, from: fiveTuple, now: .now, unixTime: Self.unixTime()) {
            switch action {
            case .toClient(_, let bytes): decision.response = bytes
            case .bindConnection(let id, _): decision.peer = peerConnections[id].map { (id, $0.channel, owner) }
            default: perform([action])
            }
        }
        flush()
        return decision
    }

    /// Back on the data connection's loop: answer, then splice it to the peer connection. Reading was
    /// paused since the request, so only frames the framer already held can be left; they go to the peer as
    /// bytes before the framer leaves the pipeline.
    private func completeConnectionBind(
        _ decision: ConnectionBindDecision, fiveTuple: FiveTuple, dataChannel: any Channel
    ) {
        bindsInFlight.remove(fiveTuple)
        func fail() {
            if let peer = decision.peer {
                peer.owner.eventLoop.execute { peer.owner.value.closeConnection(id: peer.id) }
            }
        }
        guard let response = decision.response, dataChannel.isActive else { return fail() }
        dataChannel.writeAndFlush(response, promise: nil)
        guard let (id, peerChannel, owner) = decision.peer else {
            dataChannel.setOption(.autoRead, value: true).whenComplete { _ in }
            return
        }
        streams[fiveTuple] = nil
        let framerLeft: EventLoopFuture<Void>
        do {
            let pipeline = dataChannel.pipeline.syncOperations
            try pipeline.addHandler(LeftoverFramesHandler())
            try pipeline.addHandler(SpliceHandler(partner: peerChannel))
            pipeline.removeHandler(context: try pipeline.context(handlerType: StreamListenerHandler.self), promise: nil)
            // The framer leaves on a later turn of the loop: reading resumes only once it has, so no byte
            // of the pipe is read as a STUN frame.
            let framer = try pipeline.context(handlerType: ByteToMessageHandler<STUNStreamFramer>.self)
            let promise = dataChannel.eventLoop.makePromise(of: Void.self)
            pipeline.removeHandler(context: framer, promise: promise)
            framerLeft = promise.futureResult
        } catch {
            dataChannel.close(promise: nil)
            return fail()
        }
        framerLeft.whenComplete { _ in
            let pipeline = dataChannel.pipeline.syncOperations
            if let leftovers = try? pipeline.context(handlerType: LeftoverFramesHandler.self) {
                pipeline.removeHandler(context: leftovers, promise: nil)
            }
            dataChannel.setOption(.autoRead, value: true).whenComplete { _ in }
        }
        owner.eventLoop.execute {
            guard let peer = owner.value.peerConnections[id] else {
                dataChannel.close(promise: nil)
                return
            }
            peer.handler.join(dataChannel)
        }
    }
}

/// Between the STUN framer and the pipe for the moment the framer leaves: frames it still held go on as
/// the bytes they were.
final class LeftoverFramesHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = STUNStreamFrame
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .stun(let bytes), .channelData(let bytes): context.fireChannelRead(wrapInboundOut(bytes))
        }
    }
}
