import ConnectionLimits
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import STUN
import ServerTLS
import ServiceLifecycle
import TURN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The STUN/TURN listeners: UDP (several SO_REUSEPORT sockets per address), TCP and TLS.
///
/// Run it as a swift-service-lifecycle `Service`, or call ``start()`` and ``stop()`` directly (tests do).
public final class RelayServer: Service, Sendable {
    /// A listening socket and the address it is bound to (the real port when 0 was asked for).
    public struct Listener: Hashable, Sendable {
        public var transport: RelayTransport
        public var address: SocketAddress
    }

    public let configuration: RelayServerConfiguration
    private let tls: NIOLockedValueBox<ReloadingTLSContext?>
    private let group: any EventLoopGroup
    let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var channels: [any Channel] = []
        var listeners: [Listener] = []
        var counters: [TrafficCounters] = []
        var turn: TURNLoops?
        /// The UDP planes (with `udpIO: batched`), each with one socket per UDP address.
        var planes: [DatagramPlane] = []
        /// Counters of connections another listener (the HTTP port) handed over, per transport.
        var adopted: [RelayTransport: TrafficCounters] = [:]
        var responder: BindingResponder?
        var sweeps: [RepeatedTask] = []
        var started = false
    }

    /// `tls` serves the TLS listeners (the process shares one, reloaded on SIGHUP); without it one is loaded
    /// from `configuration.certificate` at start.
    public init(
        configuration: RelayServerConfiguration,
        tls: ReloadingTLSContext? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "partyline.relay")
    ) {
        self.configuration = configuration
        self.tls = NIOLockedValueBox(tls)
        self.group = group
        self.logger = logger
        let streams = configuration.streams
        self.streamLimiter = ConnectionLimiter(
            name: "stun-stream",
            limits: .init(
                total: streams.maxConnections > 0
                    ? streams.maxConnections : OpenFileLimit.defaultCap(limit: OpenFileLimit.raise()),
                perSource: streams.maxConnectionsPerAddress),
            logger: logger)
    }

    /// The bound listeners, once started.
    public var listeners: [Listener] { state.withLockedValue { $0.listeners } }

    /// Binds every configured listener; throws (and closes what it opened) if any bind fails.
    @discardableResult
    public func start() async throws -> [Listener] {
        let responder = BindingResponder(software: configuration.software)
        do {
            let turn = try await startTURN()
            try makePlanes(responder: responder, turn: turn)
            for address in configuration.udp {
                try await Self.naming(address, .udp) { try await bindUDP(address, responder: responder, turn: turn) }
            }
            for address in configuration.tcp {
                try await Self.naming(address, .tcp) {
                    try await bindStream(address, transport: .tcp, tls: nil, responder: responder, turn: turn)
                }
            }
            if let files = configuration.certificate {
                let context = try tls.withLockedValue { $0 } ?? ReloadingTLSContext(files: files)
                tls.withLockedValue { $0 = context }
                for address in configuration.tls {
                    try await Self.naming(address, .tls) {
                        try await bindStream(address, transport: .tls, tls: context, responder: responder, turn: turn)
                    }
                }
            }
            for plane in state.withLockedValue({ $0.planes }) { plane.start() }
        } catch {
            await stop()
            throw error
        }
        let adopted = [RelayTransport.tcp, .tls].map { TrafficCounters(transport: $0) }
        let listeners = state.withLockedValue { state in
            state.started = true
            state.responder = responder
            for counters in adopted {
                state.adopted[counters.transport] = counters
                state.counters.append(counters)
            }
            return state.listeners
        }
        await protect(
            listeners.map { ($0.address, $0.transport == .udp ? .udp : .tcp) }
                + configuration.protectedAddresses.map { address in
                    // A host name (`localhost:8080`) is protected on every local address, as a wildcard.
                    let host = IPAddress(parsing: address.host) == nil ? "::" : address.host
                    return (try! SocketAddress(ipAddress: host, port: address.port), .tcp)
                })
        for listener in listeners {
            logger.info(
                "listening", metadata: ["transport": "\(listener.transport)", "address": "\(listener.address)"])
        }
        return listeners
    }

    /// Serves until graceful shutdown (or cancellation).
    public func run() async throws {
        if !state.withLockedValue({ $0.started }) { try await start() }
        try? await gracefulShutdown()
        await stop()
    }

    /// Closes every listener and relay socket; safe to call more than once.
    public func stop() async {
        let (channels, sweeps, turn, planes) = state.withLockedValue { state in
            defer { (state.channels, state.sweeps, state.planes) = ([], [], []) }
            return (state.channels, state.sweeps, state.turn, state.planes)
        }
        for sweep in sweeps { sweep.cancel() }
        for channel in channels { try? await channel.close() }
        for plane in planes { await plane.stop() }
        _ = await turn?.onEveryLoop { $0.closeAll() }
    }

    /// Makes `addresses` (listeners of this process with their transport: the relay's own, and the HTTP
    /// server's) unreachable as TURN peers, whatever `turn.peers.allowed` says. A wildcard address protects its port
    /// on every local address, all of loopback included.
    public func protect(_ addresses: [(SocketAddress, PeerAddressPolicy.PeerTransport)]) async {
        guard state.withLockedValue({ $0.turn }) != nil, !addresses.isEmpty else { return }
        let targets = addresses.compactMap { address, transport in TransportAddress(address).map { ($0, transport) } }
        let networks =
            Self.localNetworks(of: targets.map(\.0.ip))
            + ["0.0.0.0/8", "::/128"].map { IPNetwork(parsing: $0)! }
        _ = await onEveryDriver { loop in
            loop.table.peerPolicy.serverNetworks.append(contentsOf: networks)
            for (target, transport) in targets {
                loop.table.peerPolicy.listenerPorts[transport, default: []].insert(target.port)
            }
        }
    }

    /// The networks that reach a socket bound to one of `ips`: the address itself, or for a wildcard all of
    /// loopback and every interface address, of both families for `::` (dual-stack unless IPV6_V6ONLY).
    static func localNetworks(of ips: [IPAddress]) -> [IPNetwork] {
        var networks: Set<IPNetwork> = []
        let interfaces = ((try? System.enumerateDevices()) ?? []).compactMap {
            $0.address.flatMap(TransportAddress.init)?.ip
        }
        for ip in ips {
            guard ip.isUnspecified else {
                networks.insert(IPNetwork(host: ip))
                continue
            }
            let families: [AddressFamily] = ip.family == .ipv4 ? [.ipv4] : [.ipv4, .ipv6]
            for family in families {
                networks.insert(IPNetwork(parsing: family == .ipv4 ? "127.0.0.0/8" : "::1/128")!)
                for local in interfaces where local.family == family { networks.insert(IPNetwork(host: local)) }
            }
        }
        return Array(networks)
    }

    /// Refuses REST credentials whose subject lies under `subjectPrefix` (`party/group/turn/`) and tears
    /// down their allocations, permissions and channels on every event loop before returning: relayed
    /// packets stop at once. Returns the number of relay sockets closed.
    @discardableResult
    public func revoke(subjectPrefix: String) async -> Int {
        await onEveryDriver { $0.revoke(subjectPrefix: subjectPrefix) }.reduce(0, +)
    }

    /// ``revoke(subjectPrefix:)`` for many prefixes with one visit to each event loop (a cluster's
    /// revocations read in a batch).
    @discardableResult
    public func revoke(subjectPrefixes: [String]) async -> Int {
        guard !subjectPrefixes.isEmpty else { return 0 }
        return await onEveryDriver { driver in
            subjectPrefixes.reduce(0) { $0 + driver.revoke(subjectPrefix: $1) }
        }.reduce(0, +)
    }

    /// Starts draining: new allocations are sent to `turn.alternateServer` (300) or refused (508) on every
    /// event loop, except those of REST subjects under `exempt` (the running turns); allocations that exist
    /// go on relaying.
    public func drain(exempt: [String] = []) async {
        _ = await onEveryDriver {
            $0.table.draining = true
            $0.table.drainExempt = exempt
        }
    }

    /// TURN allocations open now, over every event loop and plane (the shared quota ledger's count).
    public var allocationCount: Int { state.withLockedValue { $0.turn }?.ledger.total ?? 0 }

    /// What the TURN relay has done, summed over event loops; zero when TURN is off.
    public func relayStatistics() async -> RelayStatistics {
        guard let turn = state.withLockedValue({ $0.turn }) else { return RelayStatistics() }
        var statistics = await onEveryDriver { $0.counters.snapshot }.reduce(RelayStatistics(), +)
        statistics.allocations = turn.ledger.total
        return statistics
    }

    /// Everything the metrics endpoint reports about STUN and TURN, gathered on every event loop.
    public func metrics() async -> RelayMetrics {
        var metrics = RelayMetrics(listeners: statistics())
        guard let turn = state.withLockedValue({ $0.turn }) else { return metrics }
        let now = ContinuousClock.now
        let perLoop = await onEveryDriver { loop in
            var permissions = 0
            var channels = 0
            for allocation in loop.table.allocations.values {
                let counts = allocation.bindings.counts(now: now)
                permissions += counts.permissions
                channels += counts.channels
            }
            return (loop.counters.snapshot, loop.table.statistics, permissions, channels)
        }
        for (relay, requests, permissions, channels) in perLoop {
            metrics.relay = metrics.relay + relay
            metrics.requests = metrics.requests + requests
            metrics.permissions += permissions
            metrics.channels += channels
        }
        metrics.relay.allocations = turn.ledger.total
        return metrics
    }

    /// Runs `body` with every TURN driver of the process, each on its own thread, and collects the results.
    func onEveryDriver<T: Sendable>(_ body: @escaping @Sendable (any TURNDriver) -> T) async -> [T] {
        let (turn, planes) = state.withLockedValue { ($0.turn, $0.planes) }
        guard let turn else { return [] }
        var results = await turn.onEveryLoop { body($0) }
        for plane in planes {
            if let result = await plane.submit({ plane in plane.turn.map { body($0) } }) { results.append(result) }
        }
        return results
    }

    /// Builds the per-loop TURN drivers and their once-a-second expiry sweeps, when TURN is configured.
    private func startTURN() async throws -> TURNLoops? {
        guard let configuration = configuration.turn, configuration.isEnabled else { return nil }
        let turn = try await TURNLoops.make(
            configuration, software: self.configuration.software, listeners: self.configuration.udp, group: group,
            segmentation: configuration.udpSegmentation == true && self.configuration.udpIO == .eventLoop,
            logger: logger)
        var sweeps: [RepeatedTask] = []
        for loop in group.makeIterator() {
            sweeps.append(
                loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                    turn.driver(for: loop)?.expire()
                })
        }
        state.withLockedValue { state in
            state.turn = turn
            state.sweeps = sweeps
        }
        return turn
    }

    /// Counters summed over every listener, per transport.
    public func statistics() -> TrafficStatistics {
        var statistics = TrafficStatistics()
        for counters in state.withLockedValue({ $0.counters }) {
            statistics.byTransport[counters.transport, default: .init()] =
                statistics[counters.transport] + counters.snapshot
        }
        return statistics
    }

    /// UDP sockets per address: one per event loop or plane.
    var udpSocketCount: Int {
        configuration.udpSocketsPerAddress > 0 ? configuration.udpSocketsPerAddress : System.coreCount
    }

    /// Records a plane's listener socket like a channel's.
    func register(_ listener: DatagramPlane.Listener) {
        state.withLockedValue { state in
            state.counters.append(listener.counters)
            state.listeners.append(Listener(transport: .udp, address: listener.local.socketAddress))
        }
    }

    /// Keeps the planes, so that UDP listeners are bound on them and ``stop()`` stops them.
    func adopt(_ planes: [DatagramPlane]) { state.withLockedValue { $0.planes = planes } }

    private func register(_ channel: any Channel, transport: RelayTransport, counters: TrafficCounters) {
        state.withLockedValue { state in
            state.channels.append(channel)
            state.counters.append(counters)
            if let address = channel.localAddress {
                state.listeners.append(Listener(transport: transport, address: address))
            }
        }
    }

    private func bindUDP(_ address: ListenAddress, responder: BindingResponder, turn: TURNLoops?) async throws {
        guard address.port == 0 else {
            // SO_REUSEPORT would let this group share a port another process of the same user holds (and
            // split the datagrams with it): a plain socket must be able to take the port first.
            var probeBootstrap = DatagramBootstrap(group: group)
            if address.host.contains(":") { probeBootstrap = probeBootstrap.channelOption(Self.ipv6Only, value: 1) }
            let probe = try await probeBootstrap.bind(host: address.host, port: address.port).get()
            try await probe.close()
            return try await bindUDPGroup(address, port: address.port, responder: responder, turn: turn)
        }
        // The kernel may hand a SO_REUSEPORT socket bound to port 0 a port that another SO_REUSEPORT group of
        // the same user holds (and then splits datagrams between them). A plain socket gets a port nobody
        // holds and the group takes it over; if someone else binds it in between, try another.
        for attempt in 1...5 {
            let probe = try await DatagramBootstrap(group: group).bind(host: address.host, port: 0).get()
            let port = probe.localAddress?.port ?? 0
            try await probe.close()
            do {
                return try await bindUDPGroup(address, port: port, responder: responder, turn: turn)
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempt < 5 {
                continue
            }
        }
    }

    /// Binds `udpSocketsPerAddress` SO_REUSEPORT sockets to `port`; none stays bound if one fails.
    private func bindUDPGroup(_ address: ListenAddress, port: Int, responder: BindingResponder, turn: TURNLoops?)
        async throws
    {
        let planes = state.withLockedValue { $0.planes }
        if !planes.isEmpty { return try bindPlaneSockets(address, port: port, planes: planes) }
        let count = udpSocketCount
        let vector = max(1, configuration.udpVectorReadCount)
        var port = port
        var loops = group.makeIterator()
        var bound: [(any Channel, TrafficCounters)] = []
        do {
            for _ in 0..<count {
                let loop = loops.next() ?? group.next()
                let counters = TrafficCounters(transport: .udp)
                var bootstrap = DatagramBootstrap(group: loop)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(Self.reusePort, value: 1)
                    .channelOption(.datagramVectorReadMessageCount, value: vector)
                    .channelOption(.socketOption(.so_rcvbuf), value: configuration.udpReceiveBufferBytes)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vector * 2048))
                    .channelOption(.maxMessagesPerRead, value: 4)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                UDPListenerHandler(
                                    responder: responder, counters: counters,
                                    turn: turn?.driver(for: channel.eventLoop)))
                        }
                    }
                if address.host.contains(":") { bootstrap = bootstrap.channelOption(Self.ipv6Only, value: 1) }
                let channel = try await bootstrap.bind(host: address.host, port: port).get()
                port = channel.localAddress?.port ?? port
                bound.append((channel, counters))
            }
        } catch {
            for (channel, _) in bound { try? await channel.close() }
            throw error
        }
        for (channel, counters) in bound { register(channel, transport: .udp, counters: counters) }
    }

    /// The caps every TCP and TLS listener shares.
    public let streamLimiter: ConnectionLimiter

    private func bindStream(
        _ address: ListenAddress, transport: RelayTransport, tls: ReloadingTLSContext?, responder: BindingResponder,
        turn: TURNLoops?
    ) async throws {
        let counters = TrafficCounters(transport: transport)
        let limits = configuration.streams
        let limiter = streamLimiter
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: limits.waterMark)
            // One socket read of at most 16 KiB per readable event: a client pipelining thousands of requests
            // cannot hold its event loop for long, and the others on the loop keep being served.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: Self.streamReadAllocator)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ConnectionAdmissionHandler(limiter: limiter))
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls.current)) }
                    try Self.addStreamHandlers(
                        to: channel, responder: responder, counters: counters,
                        turn: turn?.driver(for: channel.eventLoop), transport: transport, limits: limits)
                }
            }
        if address.host.contains(":") { bootstrap = bootstrap.serverChannelOption(Self.ipv6Only, value: 1) }
        let channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        register(channel, transport: transport, counters: counters)
    }

    static let streamReadAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16 * 1024)

    /// The handlers of a STUN/TURN stream connection after any TLS: reading stops while the outbound buffer
    /// is above its high-water mark, then framing, then the listener handler.
    static func addStreamHandlers(
        to channel: any Channel, responder: BindingResponder, counters: TrafficCounters, turn: TURNLoop?,
        transport: RelayTransport, limits: StreamLimits
    ) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(BackPressureHandler())
        try sync.addHandler(ByteToMessageHandler(STUNStreamFramer()))
        try sync.addHandler(
            StreamListenerHandler(
                responder: responder, counters: counters, turn: turn, transport: transport == .tls ? .tls : .tcp,
                limits: limits))
    }

    /// Takes over a connection another listener accepted and found to speak STUN (the HTTP port, which tells
    /// STUN from HTTP by the first byte): from now on it is served as one of this server's TCP (`tls` false)
    /// or TLS connections, with the stream limits but not the stream connection caps (the accepting
    /// listener's caps counted it). Call it on the channel's event loop, after any TLS handler, before the
    /// first bytes are passed on. Throws if the server is not started.
    public func adoptStream(_ channel: any Channel, tls: Bool) throws {
        let transport: RelayTransport = tls ? .tls : .tcp
        guard
            let (counters, responder, turn) = state.withLockedValue({ state in
                state.responder.map { (state.adopted[transport]!, $0, state.turn) }
            })
        else { throw ChannelError.ioOnClosedChannel }
        let limits = configuration.streams
        if let options = channel.syncOptions {
            try options.setOption(.writeBufferWaterMark, value: limits.waterMark)
            try options.setOption(.maxMessagesPerRead, value: 1)
            try options.setOption(.recvAllocator, value: Self.streamReadAllocator)
            try options.setOption(.socketOption(.tcp_nodelay), value: 1)
            // HTTP servers keep a half-closed connection open; a TURN client that closes is gone, and its
            // allocation with it.
            try options.setOption(.allowRemoteHalfClosure, value: false)
        }
        try Self.addStreamHandlers(
            to: channel, responder: responder, counters: counters, turn: turn?.driver(for: channel.eventLoop),
            transport: transport, limits: limits)
    }

    /// Runs a bind, naming the address and transport in its error ("address already in use" alone does not
    /// say which of the listeners failed).
    static func naming(_ address: ListenAddress, _ transport: RelayTransport, bind: () async throws -> Void)
        async throws
    {
        do {
            try await bind()
        } catch let error as IOError {
            throw ListenError(address: address, transport: transport.rawValue, reason: "\(error)")
        }
    }

    /// SO_REUSEPORT has no named NIO option; the level and name are built from the C constants.
    static let reusePort = ChannelOptions.Types.SocketOption(
        level: NIOBSDSocket.OptionLevel(rawValue: CInt(SOL_SOCKET)),
        name: NIOBSDSocket.Option(rawValue: CInt(SO_REUSEPORT)))

    /// IPv6 listeners serve IPv6 only, so `[::]` and `0.0.0.0` can share a port.
    static let ipv6Only = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)
}
