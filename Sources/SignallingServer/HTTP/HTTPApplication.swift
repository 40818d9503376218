import Atomics
import ConnectionLimits
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// The HTTP server: JSON API routes and the signalling WebSocket on one port (HTTP/1.1 with upgrade).
public enum HTTPApplication {
    /// An application serving `hub`'s routes and those `addRoutes` adds on `host:port` (port 0 picks a free
    /// one, reported to `onServerRunning`), with WebSocket pings every `hub.configuration.heartbeat`;
    /// `services` run beside the hub. Idle HTTP/1 keep-alive connections are closed after 75 s.
    public static func make(
        hub: SignallingHub, host: String, port: Int, logger: Logger, limits: HTTPConnectionLimits = .init(),
        addRoutes: (Router<SignallingRequestContext>) -> Void = { _ in }, services: [any Service] = [],
        onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: SignallingRequestContext.self)
        router.get("/healthz") { _, _ in "ok" }
        SignallingRoutes.add(to: router, hub: hub)
        addRoutes(router)
        let webSocket = WebSocketServerConfiguration(
            maxFrameSize: SignallingEndpoint.maximumFrame, autoPing: .enabled(timePeriod: hub.configuration.heartbeat),
            validateUTF8: true)
        let limiter = ConnectionLimiter(
            name: "http",
            limits: .init(
                total: limits.maxConnections > 0
                    ? limits.maxConnections : OpenFileLimit.defaultCap(limit: OpenFileLimit.raise()),
                perSource: limits.maxConnectionsPerAddress),
            logger: logger)
        let headTimeout = TimeAmount(limits.requestHeadTimeout)
        let headTimeouts = ManagedAtomic<Int>(0)
        let server = HTTPServerBuilder { responder in
            GuardedChildChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder,
                    configuration: .init(http1: .init(idleTimeout: .seconds(75)), ws: webSocket),
                    shouldUpgrade: { head, channel, _ in SignallingRoutes.upgrade(head, channel: channel, hub: hub) }),
                limiter: limiter, headTimeout: headTimeout, headTimeouts: headTimeouts)
        }
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "PartyLine"),
            services: [hub] + services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
