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
    /// Datagrams for peers from this read burst, sent on the relay sockets' descriptors with one sendmmsg
    /// per socket when it ends (SwiftNIO only reads those sockets).
    private let peerOutbox: DatagramOutbox
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
        peerOutbox = DatagramOutbox(segmentation: segmentation)
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
        if !peerOutbox.isEmpty { sendToPeers() }
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

    /// Sends the burst's datagrams for peers; the kernel's refusals count as dropped.
    private func sendToPeers() {
        let report = peerOutbox.flush()
        if report.dropped > 0 { counters.dropped.wrappingIncrement(by: report.dropped, ordering: .relaxed) }
        if report.coalesced > 0 {
            counters.coalescedWrites.wrappingIncrement(by: report.coalesced, ordering: .relaxed)
        }
        if report.segmentationRefused > 0 {
            logger.warning(
                "UDP segmentation refused by the kernel; that socket now sends datagrams one by one",
                metadata: ["sockets": "\(report.segmentationRefused)"])
        }
    }

    /// Closes every relay socket (server shutdown).
    func closeAll() {
        if !peerOutbox.isEmpty { sendToPeers() }
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
            guard let socket = relays[relay], let fd = socket.fd else { return }
            // A relay socket whose send buffer is full drops (counted on flush), as the network would.
            counters.relayed(.toPeer, socket.clientTransport, bytes: data.readableBytes)
            peerOutbox.append(data, fd: fd, to: peer)
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
        // Its descriptor closes now and may be reused: what the burst queued for it leaves first.
        if let fd = relay.fd {
            if !peerOutbox.isEmpty { sendToPeers() }
            peerOutbox.forget(fd)
        }
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
            let advertised = TransportAddress(ip: host.advertised, port: port)
            return open(boundSocket: fd, advertised: advertised).map { opened -> RelaySocketOpened? in
                opened ? (advertised, token) : nil
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
                    let relay = RelaySocket(address: address, channel: channel, fd: fd)
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

/// One allocation's relay socket and what its hot path needs without lookups: where its client is, and
/// the descriptor datagrams for peers are sent on.
final class RelaySocket {
    /// The client's listener (with the client's address, on UDP) or connection.
    typealias Client = (outlet: Outlet, address: SocketAddress?)

    let address: TransportAddress
    let outlet: Outlet
    /// A UDP relay socket's descriptor, written directly (the channel only reads it); nil for an RFC 6062
    /// relay listener.
    let fd: CInt?
    var client: Client?
    /// How the client reaches the server, for the relayed-traffic counters.
    var clientTransport = ClientTransport.udp

    init(address: TransportAddress, channel: any Channel, fd: CInt? = nil) {
        self.address = address
        self.outlet = Outlet(channel)
        self.fd = fd
    }
}
