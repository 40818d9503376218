import Atomics
import CDatagramSockets
import Logging
import NIOCore
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The TURN relay of one ``DatagramPlane``: its own ``AllocationTable`` for the UDP clients whose 5-tuples
/// the kernel gives this plane's listener sockets, and the relay sockets of their allocations, read and
/// written by the plane's thread. The table decides everything; this only carries its actions out.
final class DatagramTURN: TURNDriver {
    typealias Instant = ContinuousClock.Instant

    /// An allocation's relay socket, and where its client's datagrams leave from.
    final class Relay {
        let fd: CInt
        let address: TransportAddress
        let port: UInt16
        let pool: RelayPortPool
        /// The listener socket the client reaches the server on.
        var clientListener: CInt?

        init(fd: CInt, address: TransportAddress, port: UInt16, pool: RelayPortPool) {
            self.fd = fd
            self.address = address
            self.port = port
            self.pool = pool
        }
    }

    let counters = RelayCounters()
    var table: AllocationTable
    private let relayHosts: [AddressFamily: TURNLoop.RelayHost]
    private var relays: [TransportAddress: Relay] = [:]
    /// The plane's listener sockets by local address.
    var listenerFDs: [TransportAddress: CInt] = [:]
    private var requestLog: TURNRequestLog
    private unowned let plane: DatagramPlane

    init(plane: DatagramPlane, table: AllocationTable, relayHosts: [AddressFamily: TURNLoop.RelayHost]) {
        self.plane = plane
        self.table = table
        self.relayHosts = relayHosts
        requestLog = TURNRequestLog(logger: plane.logger)
        for listener in plane.listeners { listenerFDs[listener.local] = listener.fd }
    }

    // MARK: Inputs

    /// A TURN request or Send indication from a client.
    func handle(_ view: STUNMessageView, from fiveTuple: FiveTuple, now: Instant) {
        counters.requests.wrappingIncrement(ordering: .relaxed)
        let actions = table.handle(view, from: fiveTuple, now: now, unixTime: TURNLoop.unixTime())
        if plane.logger.logLevel <= .debug { requestLog.log(view, actions, fiveTuple) }
        for action in actions { perform(action, now: now) }
    }

    /// ChannelData from a client.
    func channelData(_ bytes: ByteBuffer, from fiveTuple: FiveTuple, now: Instant) {
        guard let message = try? ChannelData(decoding: bytes) else {
            counters.malformedChannelData.wrappingIncrement(ordering: .relaxed)
            return
        }
        guard let action = table.channelData(message, from: fiveTuple, now: now) else {
            counters.dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        perform(action, now: now)
    }

    /// A datagram from a peer on `relay`, written for the client straight into the plane's outbox.
    func peerData(_ bytes: ByteBuffer, from peer: TransportAddress, relay: Relay, now: Instant) {
        let start = plane.outbox.bytes.writerIndex
        guard let listener = relay.clientListener,
            let fiveTuple = table.peerData(bytes, from: peer, relay: relay.address, now: now, into: &plane.outbox.bytes)
        else {
            counters.dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        counters.relayed(.toClient, .udp, bytes: bytes.readableBytes)
        plane.outbox.commit(fd: listener, to: fiveTuple.client, from: start)
    }

    /// Sweeps expired allocations, permissions and channels.
    func expire(now: Instant) {
        for action in table.expire(now: now) { perform(action, now: now) }
    }

    func revoke(subjectPrefix: String) -> Int {
        let actions = table.revoke(subjectPrefix: subjectPrefix, now: .now)
        for action in actions { perform(action, now: .now) }
        return actions.count { if case .closeRelay = $0 { true } else { false } }
    }

    func closeAll() {
        for relay in relays.values { retire(relay) }
        relays.removeAll()
    }

    // MARK: Actions

    private func perform(_ action: AllocationTable.Action, now: Instant) {
        switch action {
        case .toClient(let fiveTuple, let bytes):
            guard fiveTuple.transport == .udp, let listener = listenerFDs[fiveTuple.server] else { return }
            plane.outbox.append(bytes, fd: listener, to: fiveTuple.client)
        case .toPeer(let address, let peer, let data):
            guard let relay = relays[address] else { return }
            counters.relayed(.toPeer, .udp, bytes: data.readableBytes)
            plane.outbox.append(data, fd: relay.fd, to: peer)
        case .openRelay(let request):
            openRelay(request, now: now)
        case .closeRelay(let address):
            if let relay = relays.removeValue(forKey: address) { retire(relay) }
        case .peerRefused(let client, let peer, let refusal):
            requestLog.peerRefused(client: client, peer: peer, refusal)
        case .connectPeer, .bindConnection, .closeConnection:
            // RFC 6062 needs a TCP or TLS client; a UDP client's requests for it are refused by the table.
            break
        }
    }

    private func retire(_ relay: Relay) {
        plane.retire(relay.fd, freeing: (relay.pool, relay.port))
    }

    // MARK: Relay sockets

    /// Binds the allocation's relay sockets at once (a bind does not block) and tells the table.
    private func openRelay(_ request: AllocationTable.PendingAllocation, now: Instant) {
        var opened: [(address: TransportAddress, token: UInt64?)] = []
        if let reservation = request.reservationToken {
            // The token names a port of whichever family reserved it.
            for host in relayHosts.values {
                guard let port = host.pool.take(token: reservation, now: now) else { continue }
                if let address = bind(host, port: port, dontFragment: request.dontFragment) {
                    opened.append((address, nil))
                } else {
                    host.pool.give(port)
                    counters.relaySocketFailures.wrappingIncrement(ordering: .relaxed)
                }
                break
            }
        }
        for (index, family) in request.families.enumerated()
        where request.reservationToken == nil && request.relayedTransport == .udp {
            guard let host = relayHosts[family] else { continue }
            let reserve = index == 0 && request.reserveNextPort
            var bound: (TransportAddress, UInt64?)?
            for _ in 0..<TURNLoop.bindAttempts {
                guard let (port, token) = host.pool.take(even: request.evenPort, reserveNext: reserve, now: now)
                else { break }
                if let address = bind(host, port: port, dontFragment: request.dontFragment) {
                    bound = (address, token)
                    break
                }
                host.pool.give(port)
            }
            if let bound {
                opened.append(bound)
            } else {
                counters.relaySocketFailures.wrappingIncrement(ordering: .relaxed)
            }
        }
        let listener = listenerFDs[request.fiveTuple.server]
        for socket in opened { relays[socket.address]?.clientListener = listener }
        let token = opened.lazy.compactMap(\.token).first
        for action in table.relayOpened(request, relayed: opened.map(\.address), reservationToken: token, now: now) {
            perform(action, now: now)
        }
    }

    /// A relay socket bound to `port` of `host`, watched by the plane; nil when the kernel refuses the port.
    private func bind(_ host: TURNLoop.RelayHost, port: UInt16, dontFragment: Bool) -> TransportAddress? {
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) {
            TransportAddress(ip: host.ip, port: port).writeSocketAddress(to: $0.baseAddress!)
        }
        let fd = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                partyline_udp_socket($0, length, 0, host.ip.family == .ipv6 ? 1 : 0, dontFragment ? 1 : 0, 0)
            }
        }
        guard fd >= 0 else { return nil }
        let address = TransportAddress(ip: host.advertised, port: port)
        let relay = Relay(fd: fd, address: address, port: port, pool: host.pool)
        guard plane.watch(fd, as: .relay(relay)) == 0 else {
            close(fd)
            return nil
        }
        relays[address] = relay
        return address
    }
}
