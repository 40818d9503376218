import Atomics
import ConnectionLimits
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServerTLS
import ServiceLifecycle

/// The process's one HTTP listener: the JSON APIs, the party page and the signalling WebSocket on one port
/// (HTTP/1.1 with upgrade), optionally over TLS, optionally also answering STUN/TURN on the same port.
/// Features (signalling, coordinator, web page) add their routes; the host owns the connection, not them.
public enum HTTPHost {
    /// The WebSocket endpoint a feature serves: which upgrade requests it takes, its largest frame, and how
    /// often the server pings.
    public struct WebSocketEndpoint: Sendable {
        public typealias ShouldUpgrade =
            @Sendable (HTTPRequest, any Channel, Logger) -> ShouldUpgradeResult<
                WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>
            >
        public var maxFrameSize: Int
        public var pingInterval: Duration
        public var shouldUpgrade: ShouldUpgrade

        public init(maxFrameSize: Int, pingInterval: Duration, shouldUpgrade: @escaping ShouldUpgrade) {
            self.maxFrameSize = maxFrameSize
            self.pingInterval = pingInterval
            self.shouldUpgrade = shouldUpgrade
        }
    }

    /// The `/readyz` body: 200 when ready, 503 with the reasons otherwise.
    struct Readiness: Encodable {
        let ready: Bool
        let reasons: [String]
    }

    /// An application listening on `host:port` (port 0 picks a free one, reported to `onServerRunning`) with
    /// the routes `addRoutes` adds and `webSocket`'s upgrades; `services` run beside it. With `tls` every
    /// connection is TLS (HTTPS, WSS). With `adoptStream`, a connection whose first byte is not HTTP's (a STUN
    /// message starts with two zero bits) is handed to it instead: one port serves TURN and HTTP. Idle HTTP/1
    /// keep-alive connections are closed after 75 s. `/healthz` answers while the process serves; `/readyz`
    /// answers 200 when `readiness` finds nothing wrong, else 503 with its reasons.
    public static func make(
        host: String, port: Int, logger: Logger, limits: HTTPConnectionLimits = .init(),
        tls: ReloadingTLSContext? = nil, adoptStream: StreamAdopter? = nil,
        webSocket: WebSocketEndpoint? = nil, readiness: @escaping @Sendable () async -> [String] = { [] },
        addRoutes: (Router<HostRequestContext>) -> Void = { _ in }, services: [any Service] = [],
        onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: HostRequestContext.self)
        // Requests by route, method and status, and their latency, in swift-metrics (the process's
        // Prometheus registry when one is bootstrapped).
        router.add(middleware: MetricsMiddleware())
        router.get("/healthz") { _, _ in "ok" }
        router.get("/readyz") { _, _ -> Response in
            let reasons = await readiness()
            return JSONResponse.make(
                status: reasons.isEmpty ? .ok : .serviceUnavailable, Readiness(ready: reasons.isEmpty, reasons: reasons)
            )
        }
        addRoutes(router)
        let limiter = ConnectionLimiter(
            name: "http",
            limits: .init(
                total: limits.maxConnections > 0
                    ? limits.maxConnections : OpenFileLimit.defaultCap(limit: OpenFileLimit.raise()),
                perSource: limits.maxConnectionsPerAddress),
            logger: logger)
        let front = ConnectionFront(
            limiter: limiter, headTimeout: TimeAmount(limits.requestHeadTimeout), headTimeouts: ManagedAtomic(0),
            tls: tls, adoptStream: adoptStream)
        let upgrade = webSocket?.shouldUpgrade
        let server = HTTPServerBuilder { responder in
            GuardedChildChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder,
                    configuration: .init(
                        http1: .init(idleTimeout: .seconds(75)),
                        ws: WebSocketServerConfiguration(
                            maxFrameSize: webSocket?.maxFrameSize ?? (1 << 14),
                            autoPing: webSocket.map { .enabled(timePeriod: $0.pingInterval) } ?? .disabled,
                            validateUTF8: true)),
                    shouldUpgrade: { head, channel, logger in upgrade?(head, channel, logger) ?? .dontUpgrade }),
                front: front)
        }
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "PartyLine"),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
