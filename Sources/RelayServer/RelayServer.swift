import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import STUN
import ServiceLifecycle

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
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var channels: [any Channel] = []
        var listeners: [Listener] = []
        var counters: [TrafficCounters] = []
        var started = false
    }

    public init(
        configuration: RelayServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "partyline.relay")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// The bound listeners, once started.
    public var listeners: [Listener] { state.withLockedValue { $0.listeners } }

    /// Binds every configured listener; throws (and closes what it opened) if any bind fails.
    @discardableResult
    public func start() async throws -> [Listener] {
        let responder = BindingResponder(software: configuration.software)
        do {
            for address in configuration.udp { try await bindUDP(address, responder: responder) }
            for address in configuration.tcp {
                try await bindStream(address, transport: .tcp, tls: nil, responder: responder)
            }
            if let files = configuration.certificate {
                let context = try Self.makeTLSContext(files)
                for address in configuration.tls {
                    try await bindStream(address, transport: .tls, tls: context, responder: responder)
                }
            }
        } catch {
            await stop()
            throw error
        }
        let listeners = state.withLockedValue { state in
            state.started = true
            return state.listeners
        }
        for listener in listeners {
            logger.info(
                "listening", metadata: ["transport": "\(listener.transport)", "address": "\(listener.address)"])
        }
        return listeners
    }

    /// Serves until graceful shutdown (or cancellation), publishing counters to swift-metrics meanwhile.
    public func run() async throws {
        if !state.withLockedValue({ $0.started }) { try await start() }
        let publisher = MetricsPublisher()
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                publisher.publish(statistics())
                try? await Task.sleep(for: .seconds(1))
            }
        } onGracefulShutdown: {
        }
        publisher.publish(statistics())
        await stop()
    }

    /// Closes every listener; safe to call more than once.
    public func stop() async {
        let channels = state.withLockedValue { state in
            defer { state.channels = [] }
            return state.channels
        }
        for channel in channels { try? await channel.close() }
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

    private func register(_ channel: any Channel, transport: RelayTransport, counters: TrafficCounters) {
        state.withLockedValue { state in
            state.channels.append(channel)
            state.counters.append(counters)
            if let address = channel.localAddress {
                state.listeners.append(Listener(transport: transport, address: address))
            }
        }
    }

    private func bindUDP(_ address: ListenAddress, responder: BindingResponder) async throws {
        let count = configuration.udpSocketsPerAddress > 0 ? configuration.udpSocketsPerAddress : System.coreCount
        let vector = max(1, configuration.udpVectorReadCount)
        var port = address.port
        var loops = group.makeIterator()
        for _ in 0..<count {
            let loop = loops.next() ?? group.next()
            let counters = TrafficCounters(transport: .udp)
            var bootstrap = DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(Self.reusePort, value: 1)
                .channelOption(.datagramVectorReadMessageCount, value: vector)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vector * 2048))
                .channelOption(.maxMessagesPerRead, value: 4)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            UDPBindingHandler(responder: responder, counters: counters))
                    }
                }
            if address.host.contains(":") { bootstrap = bootstrap.channelOption(Self.ipv6Only, value: 1) }
            let channel = try await bootstrap.bind(host: address.host, port: port).get()
            port = channel.localAddress?.port ?? port
            register(channel, transport: .udp, counters: counters)
        }
    }

    private func bindStream(
        _ address: ListenAddress, transport: RelayTransport, tls: NIOSSLContext?, responder: BindingResponder
    ) async throws {
        let counters = TrafficCounters(transport: transport)
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    try sync.addHandler(ByteToMessageHandler(STUNStreamFramer()))
                    try sync.addHandler(StreamBindingHandler(responder: responder, counters: counters))
                }
            }
        if address.host.contains(":") { bootstrap = bootstrap.serverChannelOption(Self.ipv6Only, value: 1) }
        let channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        register(channel, transport: transport, counters: counters)
    }

    static func makeTLSContext(_ files: TLSCertificateFiles) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificateChainPath).map {
            NIOSSLCertificateSource.certificate($0)
        }
        let key = try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(key))
        return try NIOSSLContext(configuration: configuration)
    }

    /// SO_REUSEPORT has no named NIO option; the level and name are built from the C constants.
    static let reusePort = ChannelOptions.Types.SocketOption(
        level: NIOBSDSocket.OptionLevel(rawValue: CInt(SOL_SOCKET)),
        name: NIOBSDSocket.Option(rawValue: CInt(SO_REUSEPORT)))

    /// IPv6 listeners serve IPv6 only, so `[::]` and `0.0.0.0` can share a port.
    static let ipv6Only = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)
}

/// Pushes counter deltas into swift-metrics, so whatever metrics backend the app bootstraps sees them.
private final class MetricsPublisher {
    private var last = TrafficStatistics()
    private var counters: [String: Counter] = [:]

    func publish(_ statistics: TrafficStatistics) {
        for (transport, now) in statistics.byTransport {
            let before = last[transport]
            for (name, value, previous) in [
                ("received", now.received, before.received), ("answered", now.answered, before.answered),
                ("error_responses", now.errorResponses, before.errorResponses),
                ("malformed", now.malformed, before.malformed), ("ignored", now.ignored, before.ignored),
            ] where value > previous {
                let key = "\(name)/\(transport)"
                let counter =
                    counters[key]
                    ?? Counter(label: "partyline_stun_\(name)_total", dimensions: [("transport", transport.rawValue)])
                counters[key] = counter
                counter.increment(by: value - previous)
            }
        }
        last = statistics
    }
}
