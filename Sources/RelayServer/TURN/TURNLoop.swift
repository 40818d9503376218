import Atomics
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
final class TURNLoop {
    typealias Instant = ContinuousClock.Instant

    /// Where relay sockets of one family bind, and the ports they take.
    struct RelayHost: Sendable {
        let ip: IPAddress
        let pool: RelayPortPool
    }

    let eventLoop: any EventLoop
    let counters = RelayCounters()
    private(set) var table: AllocationTable
    private let relayHosts: [AddressFamily: RelayHost]
    private var relays: [TransportAddress: any Channel] = [:]
    private var udpListeners: [TransportAddress: any Channel] = [:]
    private var streams: [FiveTuple: any Channel] = [:]
    /// Channels written to since the last ``flush()``.
    private var unflushed: [ObjectIdentifier: any Channel] = [:]

    /// Bind attempts per relay socket before 508 (another process may hold a port of the range).
    private static let bindAttempts = 5

    private let logger: Logger

    init(
        eventLoop: any EventLoop, table: AllocationTable, relayHosts: [AddressFamily: RelayHost], logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.table = table
        self.relayHosts = relayHosts
        self.logger = logger
    }

    // MARK: Inputs

    /// A TURN request or Send indication from a client.
    func handle(_ view: STUNMessageView, from fiveTuple: FiveTuple) {
        counters.requests.wrappingIncrement(ordering: .relaxed)
        let actions = table.handle(view, from: fiveTuple, now: .now, unixTime: Self.unixTime())
        if logger.logLevel <= .debug { log(view, actions, fiveTuple) }
        perform(actions)
    }

    /// Debug log of a request and the error it was answered with, if any; trace logs every request.
    private func log(_ view: STUNMessageView, _ actions: [AllocationTable.Action], _ fiveTuple: FiveTuple) {
        logger.trace(
            "TURN request",
            metadata: [
                "method": "\(view.type.method)", "client": "\(fiveTuple)",
                "request": "\((try? view.decode())?.attributes ?? [])",
            ])
        for case .toClient(_, let bytes) in actions {
            guard let response = try? STUNMessage(datagram: bytes), let error = response.errorCode else { continue }
            logger.debug(
                "TURN request refused",
                metadata: [
                    "method": "\(view.type.method)", "error": "\(error.code)", "client": "\(fiveTuple)",
                    "request": "\((try? view.decode())?.attributes ?? [])",
                ])
        }
        if actions.isEmpty { logger.debug("TURN message without answer", metadata: ["client": "\(fiveTuple)"]) }
    }

    /// ChannelData from a client.
    func channelData(_ bytes: ByteBuffer, from fiveTuple: FiveTuple) {
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

    /// A datagram from a peer on the relay socket bound to `relay`.
    func peerData(_ data: ByteBuffer, from peer: SocketAddress, relay: TransportAddress) {
        guard let source = TransportAddress(peer),
            let action = table.peerData(data, from: source, relay: relay, now: .now)
        else {
            counters.dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        perform(action)
    }

    /// Sweeps expired allocations, permissions and channels.
    func expire() {
        perform(table.expire(now: .now))
        flush()
    }

    /// Tears down the allocations of REST subjects under `subjectPrefix`; returns how many.
    func revoke(subjectPrefix: String) -> Int {
        let actions = table.revoke(subjectPrefix: subjectPrefix)
        perform(actions)
        flush()
        return actions.count { if case .closeRelay = $0 { true } else { false } }
    }

    // MARK: Client connections

    func registerListener(_ channel: any Channel, address: TransportAddress) { udpListeners[address] = channel }

    func streamOpened(_ channel: any Channel, fiveTuple: FiveTuple) { streams[fiveTuple] = channel }

    func streamClosed(_ fiveTuple: FiveTuple) {
        streams[fiveTuple] = nil
        perform(table.connectionClosed(fiveTuple))
        flush()
    }

    /// Flushes every channel written since the last call: once per read burst, not per packet.
    func flush() {
        guard !unflushed.isEmpty else { return }
        for channel in unflushed.values { channel.flush() }
        unflushed.removeAll(keepingCapacity: true)
    }

    /// Closes every relay socket (server shutdown).
    func closeAll() {
        for channel in relays.values { channel.close(promise: nil) }
        relays.removeAll()
    }

    var relaySocketCount: Int { relays.count }

    // MARK: Actions

    private func perform(_ actions: [AllocationTable.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: AllocationTable.Action) {
        switch action {
        case .toClient(let fiveTuple, let bytes):
            let channel: (any Channel)?
            let message: NIOAny
            if fiveTuple.transport == .udp {
                channel = udpListeners[fiveTuple.server]
                message = NIOAny(AddressedEnvelope(remoteAddress: fiveTuple.client.socketAddress, data: bytes))
            } else {
                channel = streams[fiveTuple]
                message = NIOAny(bytes)
            }
            guard let channel else { return }
            counters.toClients.wrappingIncrement(ordering: .relaxed)
            write(message, to: channel)
        case .toPeer(let relay, let peer, let data):
            guard let channel = relays[relay] else { return }
            counters.toPeers.wrappingIncrement(ordering: .relaxed)
            write(NIOAny(AddressedEnvelope(remoteAddress: peer.socketAddress, data: data)), to: channel)
        case .openRelay(let request):
            openRelay(request)
        case .closeRelay(let address):
            closeRelay(address)
        }
    }

    private func write(_ message: NIOAny, to channel: any Channel) {
        channel.pipeline.syncOperations.write(message, promise: nil)
        unflushed[ObjectIdentifier(channel)] = channel
    }

    private func closeRelay(_ address: TransportAddress) {
        guard let channel = relays.removeValue(forKey: address) else { return }
        let pool = relayHosts[address.ip.family]?.pool
        channel.close().whenComplete { _ in pool?.give(address.port) }
    }

    // MARK: Relay sockets

    private func openRelay(_ request: AllocationTable.PendingAllocation) {
        var opened: [EventLoopFuture<RelaySocket?>] = []
        if let reservation = request.reservationToken {
            // The token names a port of whichever family reserved it.
            let now = Instant.now
            for host in relayHosts.values {
                guard let port = host.pool.take(token: reservation, now: now) else { continue }
                opened.append(bind(host, dontFragment: request.dontFragment, attempts: 1) { _ in (port, nil) })
                break
            }
        }
        for (index, family) in request.families.enumerated() where request.reservationToken == nil {
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
            turn.perform(
                turn.table.relayOpened(request, relayed: sockets.map(\.address), reservationToken: token, now: .now))
            turn.flush()
        }
    }

    /// A bound relay socket's address, and the token of the port reserved beside it.
    private typealias RelaySocket = (address: TransportAddress, token: UInt64?)

    /// Binds a relay socket on `host` at the port `choose` picks, trying another port when the kernel
    /// says one is taken; nil when no port works.
    private func bind(
        _ host: RelayHost, dontFragment: Bool, attempts: Int,
        choose: @escaping (Instant) -> (port: UInt16, token: UInt64?)?
    ) -> EventLoopFuture<RelaySocket?> {
        guard attempts > 0, let (port, token) = choose(.now) else {
            counters.relaySocketFailures.wrappingIncrement(ordering: .relaxed)
            return eventLoop.makeSucceededFuture(nil)
        }
        let address = TransportAddress(ip: host.ip, port: port)
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        var bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayPeerHandler(turn: bound.value, relay: address))
                }
            }
        if dontFragment {
            let (option, value) = Self.dontFragmentOption(host.ip.family)
            bootstrap = bootstrap.channelOption(option, value: value)
        }
        let retry = NIOLoopBound(choose, eventLoop: eventLoop)
        return bootstrap.bind(to: address.socketAddress).map { channel -> RelaySocket? in
            bound.value.relays[address] = channel
            return (address, token)
        }.flatMapError { _ in
            host.pool.give(port)
            return bound.value.bind(host, dontFragment: dontFragment, attempts: attempts - 1, choose: retry.value)
        }
    }

    /// DF on every datagram of the socket: IP_MTU_DISCOVER = IP_PMTUDISC_DO, or IPV6_DONTFRAG = 1.
    private static func dontFragmentOption(_ family: AddressFamily) -> (ChannelOptions.Types.SocketOption, Int) {
        #if os(Linux)
            if family == .ipv4 {
                return (
                    .init(level: .ip, name: NIOBSDSocket.Option(rawValue: CInt(IP_MTU_DISCOVER))), Int(IP_PMTUDISC_DO)
                )
            }
        #endif
        return (.init(level: .ipv6, name: NIOBSDSocket.Option(rawValue: CInt(IPV6_DONTFRAG))), 1)
    }

    private static func unixTime() -> UInt64 { UInt64(max(0, time(nil))) }
}
