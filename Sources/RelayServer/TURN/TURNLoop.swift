import Atomics
import CDatagramSockets
import Logging
import NIOCore
import NIOPosix
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The TURN relay of one event loop: its ``AllocationTable``, the relay sockets of those allocations, and
/// the client connections they answer to. Everything here runs on `eventLoop`, so nothing is locked.
///
/// SO_REUSEPORT keeps a UDP client's 5-tuple on one listener socket and so on one loop; a TCP or TLS
/// connection stays on the loop that accepted it. Relay sockets are opened on the loop of their
/// allocation. Only the quotas (``AllocationLedger``) and the relay ports (``RelayPortPool``) are shared.
final class TURNLoop: TURNDriver {
    typealias Instant = ContinuousClock.Instant

    /// Where relay sockets of one family bind, the address clients and peers are told (the same, or the
    /// public address of a 1:1 NAT), and the ports they take.
    struct RelayHost: Sendable {
        let ip: IPAddress
        let advertised: IPAddress
        let pool: RelayPortPool
    }

    let eventLoop: any EventLoop
    let counters = RelayCounters()
    var table: AllocationTable
    let relayHosts: [AddressFamily: RelayHost]
    var relays: [TransportAddress: RelaySocket] = [:]
    private var udpListeners: [TransportAddress: Outlet] = [:]
    var streams: [FiveTuple: Outlet] = [:]
    /// RFC 6062 peer connections of this loop's table, by CONNECTION-ID.
    var peerConnections: [UInt32: (channel: any Channel, handler: SpliceHandler)] = [:]
    /// Data connections whose ConnectionBind is being decided; they read nothing meanwhile.
    var bindsInFlight: Set<FiveTuple> = []
    /// Every loop's driver by CONNECTION-ID prefix, for ConnectionBinds that land on another loop.
    var siblings: [Int: NIOLoopBound<TURNLoop>] = [:]
    private var requestLog: TURNRequestLog
    /// Outlets written to since the last ``flush()``.
    private var unflushed: [Outlet] = []
    /// Messages for clients built during one read burst, sent as slices of it by ``flush()``: slicing
    /// only then keeps the buffer uniquely owned while it is written.
    private var burst = ByteBuffer()
    private var burstWrites: [(relay: RelaySocket, offset: Int, length: Int)] = []
    /// Whether a run of same-size datagrams for one destination leaves as one GSO write.
    private let segmentation: Bool
    /// Relay sockets holding datagrams for their peer from this read burst (with segmentation).
    private var peerBound: [RelaySocket] = []
    /// GSO runs of datagrams up to 1,200 bytes, which fit any path of 1,280 bytes (IPv6's minimum MTU)
    /// with headers.
    private static let gsoRuns = DatagramRuns(maximumSegmentBytes: 1_200)
    /// Runs of messages for a stream client: one write, any sizes.
    private static let streamRuns = DatagramRuns(sameSize: false)

    /// Room for a burst of relayed messages; the buffer grows if a burst needs more.
    private static let burstCapacity = 16 * 1024

    /// Bind attempts per relay socket before 508 (another process may hold a port of the range).
    static let bindAttempts = 5
    /// Datagrams read per recvmmsg on a relay socket.
    private static let relayVectorRead = 8

    let logger: Logger

    init(
        eventLoop: any EventLoop, table: AllocationTable, relayHosts: [AddressFamily: RelayHost],
        segmentation: Bool = false, logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.table = table
        self.relayHosts = relayHosts
        self.segmentation = segmentation
        self.logger = logger
        requestLog = TURNRequestLog(logger: logger)
    }

    // MARK: Inputs

    /// A TURN request or Send indication from a client.
    func handle(_ view: STUNMessageView, from fiveTuple: FiveTuple) {
        if isBinding(fiveTuple) { return }
        if view.type == STUNMessageType(method: .connectionBind, messageClass: .request),
            let channel = streams[fiveTuple]?.channel
        {
            return connectionBind(view, from: fiveTuple, dataChannel: channel)
        }
        counters.requests.wrappingIncrement(ordering: .relaxed)
        let actions = table.handle(view, from: fiveTuple, now: .now, unixTime: Self.unixTime())
        if logger.logLevel <= .debug { requestLog.log(view, actions, fiveTuple) }
        perform(actions)
    }

    /// Frames a data connection had already sent when its ConnectionBind came are dropped: RFC 6062 has
    /// the client wait for the answer.
    private func isBinding(_ fiveTuple: FiveTuple) -> Bool {
        fiveTuple.transport != .udp && !bindsInFlight.isEmpty && bindsInFlight.contains(fiveTuple)
    }

    /// ChannelData from a client.
    func channelData(_ bytes: ByteBuffer, from fiveTuple: FiveTuple) {
        if isBinding(fiveTuple) { return }
        guard let message = try? ChannelData(decoding: bytes) else {
            counters.malformedChannelData.wrappingIncrement(ordering: .relaxed)
            return
        }
        guard let action = table.channelData(message, from: fiveTuple, now: .now) else {
            counters.dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        perform(action)
    }

    /// A datagram from a peer on `relay`: to the client as ChannelData or a Data indication, written into
    /// the burst buffer and sent as a slice of it on ``flush()``, without looking anything up but the
    /// allocation.
    func peerData(_ data: ByteBuffer, from peer: SocketAddress, relay: RelaySocket) {
        if burst.capacity == 0 { burst = relay.outlet.channel.allocator.buffer(capacity: Self.burstCapacity) }
        let start = burst.writerIndex
        guard relay.client != nil, let source = TransportAddress(peer),
            table.peerData(data, from: source, relay: relay.address, now: .now, into: &burst) != nil
        else {
            counters.dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        counters.relayed(.toClient, relay.clientTransport, bytes: data.readableBytes)
        burstWrites.append((relay, start, burst.writerIndex - start))
    }

    /// Sweeps expired allocations, permissions and channels.
    func expire() {
        perform(table.expire(now: .now))
        flush()
    }

    /// Tears down the allocations of REST subjects under `subjectPrefix`; returns how many.
    func revoke(subjectPrefix: String) -> Int {
        let actions = table.revoke(subjectPrefix: subjectPrefix, now: .now)
        perform(actions)
        flush()
        return actions.count { if case .closeRelay = $0 { true } else { false } }
    }

    // MARK: Client connections

    func registerListener(_ channel: any Channel, address: TransportAddress) {
        udpListeners[address] = Outlet(channel)
    }

    func streamOpened(_ channel: any Channel, fiveTuple: FiveTuple) { streams[fiveTuple] = Outlet(channel) }

    /// Whether the stream client of `fiveTuple` holds a live allocation.
    func hasAllocation(_ fiveTuple: FiveTuple) -> Bool { table.hasAllocation(fiveTuple, now: .now) }

    func streamClosed(_ fiveTuple: FiveTuple) {
        streams[fiveTuple] = nil
        perform(table.connectionClosed(fiveTuple))
        flush()
    }

    /// Flushes every channel written since the last call: once per read burst, not per packet.
    func flush() {
        if !burstWrites.isEmpty {
            writeBurst()
            burstWrites.removeAll(keepingCapacity: true)
        }
        if !peerBound.isEmpty {
            for socket in peerBound {
                writeHeld(socket)
                socket.queued = false
            }
            peerBound.removeAll(keepingCapacity: true)
        }
        guard !unflushed.isEmpty else { return }
        for outlet in unflushed {
            outlet.needsFlush = false
            outlet.channel.flush()
        }
        unflushed.removeAll(keepingCapacity: true)
        // Slices of the burst buffer keep it alive until sent; the next burst writes into a fresh one.
        if burst.writerIndex > 0 { burst = ByteBuffer() }
    }

    /// Writes the burst's messages for clients. The messages one relay socket read in a row lie back to
    /// back in the burst buffer: to a stream client they go as one write; to a UDP client, when they have
    /// one size (the last may be shorter), as one GSO write that the kernel cuts into the same datagrams.
    private func writeBurst() {
        var index = burstWrites.startIndex
        while index < burstWrites.endIndex {
            let first = burstWrites[index]
            guard let client = first.relay.client else {
                index += 1
                continue
            }
            var end = index + 1
            if client.address == nil || segmentation {
                // Only the messages one relay socket read in a row, back to back in the buffer.
                end = (client.address == nil ? Self.streamRuns : Self.gsoRuns).end(
                    from: index, to: burstWrites.endIndex, size: { burstWrites[$0].length },
                    joins: {
                        burstWrites[$0].relay === first.relay
                            && burstWrites[$0].offset == burstWrites[$0 - 1].offset + burstWrites[$0 - 1].length
                    })
            }
            // A stream client that does not read what it is sent loses relayed data, as over UDP.
            if client.address == nil && !client.outlet.channel.isWritable {
                counters.droppedForSlowClients.wrappingIncrement(by: end - index, ordering: .relaxed)
                index = end
                continue
            }
            let total = burstWrites[index..<end].reduce(0) { $0 + $1.length }
            let bytes = burst.getSlice(at: first.offset, length: total)!
            if let address = client.address {
                let metadata =
                    end - index > 1
                    ? AddressedEnvelope<ByteBuffer>.Metadata(
                        ecnState: .transportNotCapable, packetInfo: nil, segmentSize: first.length) : nil
                write(
                    NIOAny(AddressedEnvelope(remoteAddress: address, data: bytes, metadata: metadata)),
                    to: client.outlet)
            } else {
                write(NIOAny(bytes), to: client.outlet)
            }
            if end - index > 1 { counters.coalescedWrites.wrappingIncrement(ordering: .relaxed) }
            index = end
        }
    }

    /// Writes the datagrams `socket` holds for its peer: runs of one size (the last may be shorter) copied
    /// into one buffer and sent as one GSO write, others one by one.
    private func writeHeld(_ socket: RelaySocket) {
        guard let peer = socket.heldPeer, !socket.held.isEmpty else { return }
        let address = socket.socketAddress(of: peer)
        var index = socket.held.startIndex
        while index < socket.held.endIndex {
            let size = socket.held[index].readableBytes
            let end = Self.gsoRuns.end(
                from: index, to: socket.held.endIndex, size: { socket.held[$0].readableBytes })
            let total = socket.held[index..<end].reduce(0) { $0 + $1.readableBytes }
            if end - index == 1 {
                write(NIOAny(AddressedEnvelope(remoteAddress: address, data: socket.held[index])), to: socket.outlet)
            } else {
                var run = socket.outlet.channel.allocator.buffer(capacity: total)
                for datagram in socket.held[index..<end] { run.writeImmutableBuffer(datagram) }
                let metadata = AddressedEnvelope<ByteBuffer>.Metadata(
                    ecnState: .transportNotCapable, packetInfo: nil, segmentSize: size)
                write(
                    NIOAny(AddressedEnvelope(remoteAddress: address, data: run, metadata: metadata)), to: socket.outlet)
                counters.coalescedWrites.wrappingIncrement(ordering: .relaxed)
            }
            index = end
        }
        socket.held.removeAll(keepingCapacity: true)
        socket.heldPeer = nil
    }

    /// Closes every relay socket (server shutdown).
    func closeAll() {
        for relay in relays.values { relay.outlet.channel.close(promise: nil) }
        relays.removeAll()
        for connection in peerConnections.values { connection.channel.close(promise: nil) }
        peerConnections.removeAll()
    }

    // MARK: Actions

    func perform(_ actions: [AllocationTable.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: AllocationTable.Action) {
        switch action {
        case .toClient(let fiveTuple, let bytes):
            guard let client = client(of: fiveTuple) else { return }
            if let address = client.address {
                write(NIOAny(AddressedEnvelope(remoteAddress: address, data: bytes)), to: client.outlet)
            } else {
                write(NIOAny(bytes), to: client.outlet)
            }
        case .toPeer(let relay, let peer, let data):
            guard let socket = relays[relay] else { return }
            // A relay socket whose send buffer is full drops, as the network would.
            guard socket.outlet.channel.isWritable else {
                counters.dropped.wrappingIncrement(ordering: .relaxed)
                return
            }
            counters.relayed(.toPeer, socket.clientTransport, bytes: data.readableBytes)
            guard segmentation else {
                write(
                    NIOAny(AddressedEnvelope(remoteAddress: socket.socketAddress(of: peer), data: data)),
                    to: socket.outlet)
                return
            }
            // Held until the burst ends, so a run to one peer can leave as one write; order per socket stays.
            if let held = socket.heldPeer, held != peer { writeHeld(socket) }
            if socket.held.isEmpty {
                socket.heldPeer = peer
                if !socket.queued {
                    socket.queued = true
                    peerBound.append(socket)
                }
            }
            socket.held.append(data)
        case .openRelay(let request):
            openRelay(request)
        case .closeRelay(let address):
            closeRelay(address)
        case .connectPeer(let id, let relay, let peer):
            connectPeer(id: id, relay: relay, peer: peer)
        case .bindConnection:
            // Carried out by the ConnectionBind path, which owns both connections' loops.
            break
        case .closeConnection(let id):
            closeConnection(id: id)
        case .peerRefused(let client, let peer, let refusal):
            requestLog.peerRefused(client: client, peer: peer, refusal)
        }
    }

    private func write(_ message: NIOAny, to outlet: Outlet) {
        outlet.channel.pipeline.syncOperations.write(message, promise: nil)
        if !outlet.needsFlush {
            outlet.needsFlush = true
            unflushed.append(outlet)
        }
    }

    /// Where messages for the client of `fiveTuple` go: its UDP listener and address, or its connection.
    private func client(of fiveTuple: FiveTuple) -> RelaySocket.Client? {
        if fiveTuple.transport == .udp {
            return udpListeners[fiveTuple.server].map { ($0, fiveTuple.client.socketAddress) }
        }
        return streams[fiveTuple].map { ($0, nil) }
    }

    private func closeRelay(_ address: TransportAddress) {
        guard let relay = relays.removeValue(forKey: address) else { return }
        let pool = relayHosts[address.ip.family]?.pool
        relay.outlet.channel.close().whenComplete { _ in pool?.give(address.port) }
    }

    // MARK: Relay sockets

    private func openRelay(_ request: AllocationTable.PendingAllocation) {
        var opened: [EventLoopFuture<RelaySocketOpened?>] = []
        if let reservation = request.reservationToken {
            // The token names a port of whichever family reserved it.
            let now = Instant.now
            for host in relayHosts.values {
                guard let port = host.pool.take(token: reservation, now: now) else { continue }
                opened.append(bind(host, dontFragment: request.dontFragment, attempts: 1) { _ in (port, nil) })
                break
            }
        }
        for family in request.families where request.relayedTransport == .tcp {
            guard let host = relayHosts[family] else { continue }
            opened.append(
                listenTCPRelay(host, attempts: Self.bindAttempts) { now in host.pool.take(now: now)?.port }
                    .map { $0.map { ($0, nil) } })
        }
        for (index, family) in request.families.enumerated()
        where request.reservationToken == nil && request.relayedTransport == .udp {
            guard let host = relayHosts[family] else { continue }
            let reserve = index == 0 && request.reserveNextPort
            opened.append(
                bind(host, dontFragment: request.dontFragment, attempts: Self.bindAttempts) { now in
                    host.pool.take(even: request.evenPort, reserveNext: reserve, now: now)
                })
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        EventLoopFuture.whenAllComplete(opened, on: eventLoop).whenSuccess { results in
            let sockets = results.compactMap { try? $0.get() }.compactMap { $0 }
            let token = sockets.lazy.compactMap(\.token).first
            let turn = bound.value
            let client = turn.client(of: request.fiveTuple)
            for socket in sockets {
                turn.relays[socket.address]?.client = client
                turn.relays[socket.address]?.clientTransport = request.fiveTuple.transport
            }
            turn.perform(
                turn.table.relayOpened(request, relayed: sockets.map(\.address), reservationToken: token, now: .now))
            turn.flush()
        }
    }

    /// A bound relay socket's address, and the token of the port reserved beside it.
    private typealias RelaySocketOpened = (address: TransportAddress, token: UInt64?)

    /// Binds a relay socket on `host` at the port `choose` picks, trying another port when the kernel
    /// says one is taken; nil when no port works. The socket is made and bound here, with a system call
    /// each and DF set at once, and handed to SwiftNIO already bound: a bootstrap's own bind is a round of
    /// futures through the new channel's pipeline, a fifth of a TCP client's allocation on profiles.
    private func bind(
        _ host: RelayHost, dontFragment: Bool, attempts: Int,
        choose: (Instant) -> (port: UInt16, token: UInt64?)?
    ) -> EventLoopFuture<RelaySocketOpened?> {
        for _ in 0..<attempts {
            guard let (port, token) = choose(.now) else { break }
            let fd = Self.boundRelaySocket(at: TransportAddress(ip: host.ip, port: port), dontFragment: dontFragment)
            guard fd >= 0 else {
                host.pool.give(port)
                continue
            }
            return open(boundSocket: fd, advertised: TransportAddress(ip: host.advertised, port: port)).map {
                opened -> RelaySocketOpened? in opened ? (TransportAddress(ip: host.advertised, port: port), token) : nil
            }.always { [pool = host.pool] opened in
                if case .success(nil) = opened { pool.give(port) }
            }
        }
        counters.relaySocketFailures.wrappingIncrement(ordering: .relaxed)
        return eventLoop.makeSucceededFuture(nil)
    }

    /// Registers a bound relay socket with this loop; false if SwiftNIO refused it (and closed it).
    private func open(boundSocket fd: CInt, advertised address: TransportAddress) -> EventLoopFuture<Bool> {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        // One recvmmsg per readable event: epoll is level-triggered, so datagrams left over wake the loop
        // again, and no read ends in an EAGAIN call.
        return DatagramBootstrap(group: eventLoop)
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelOption(.datagramVectorReadMessageCount, value: Self.relayVectorRead)
            .channelOption(
                .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.relayVectorRead * 2048)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let relay = RelaySocket(address: address, channel: channel)
                    bound.value.relays[address] = relay
                    try channel.pipeline.syncOperations.addHandler(RelayPeerHandler(turn: bound.value, relay: relay))
                }
            }
            .withBoundSocket(fd)
            .map { _ in true }
            .flatMapError { _ in
                bound.value.relays[address] = nil
                bound.value.counters.relaySocketFailures.wrappingIncrement(ordering: .relaxed)
                return bound.value.eventLoop.makeSucceededFuture(false)
            }
    }

    /// A UDP socket bound to `local` (DF on every datagram if asked: IP_MTU_DISCOVER = IP_PMTUDISC_DO, or
    /// IPV6_DONTFRAG), or a negative errno.
    static func boundRelaySocket(at local: TransportAddress, dontFragment: Bool) -> CInt {
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { local.writeSocketAddress(to: $0.baseAddress!) }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                partyline_udp_socket($0, length, 0, local.ip.family == .ipv6 ? 1 : 0, dontFragment ? 1 : 0, 0)
            }
        }
    }

    static func unixTime() -> UInt64 { UInt64(max(0, time(nil))) }
}

/// A channel the loop writes to, flushed once per read burst.
final class Outlet {
    let channel: any Channel
    var needsFlush = false

    init(_ channel: any Channel) { self.channel = channel }
}

/// One allocation's relay socket and what its hot path needs without lookups: where its client is and
/// the socket address of the peer it last sent to.
final class RelaySocket {
    /// The client's listener (with the client's address, on UDP) or connection.
    typealias Client = (outlet: Outlet, address: SocketAddress?)

    let address: TransportAddress
    let outlet: Outlet
    var client: Client?
    /// How the client reaches the server, for the relayed-traffic counters.
    var clientTransport = ClientTransport.udp
    private var lastPeer: (TransportAddress, SocketAddress)?
    /// Datagrams for `heldPeer` from the current read burst, written when it ends (with segmentation).
    var held: [ByteBuffer] = []
    var heldPeer: TransportAddress?
    /// Whether the loop has this socket in its list of sockets holding datagrams.
    var queued = false

    init(address: TransportAddress, channel: any Channel) {
        self.address = address
        self.outlet = Outlet(channel)
    }

    /// `peer` as a socket address; most allocations talk to one peer, so one cached entry saves the
    /// conversion (and its string formatting) per packet.
    func socketAddress(of peer: TransportAddress) -> SocketAddress {
        if let (cached, address) = lastPeer, cached == peer { return address }
        let address = peer.socketAddress
        lastPeer = (peer, address)
        return address
    }
}
