import Atomics
import ConnectionLimits
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServerTLS

/// How HTTP connections (API, web page and signalling WebSocket) are bounded.
public struct HTTPConnectionLimits: Hashable, Sendable {
    /// Connections at once; 0 takes three eighths of the open-file limit.
    public var maxConnections: Int
    /// Connections at once from one IPv4 address or IPv6 /64; 0 for no cap.
    public var maxConnectionsPerAddress: Int
    /// A connection's first request head must be complete within this (slow or silent clients are closed);
    /// later requests on a keep-alive connection fall under the 75 s idle timeout.
    public var requestHeadTimeout: Duration

    public init(
        maxConnections: Int = 0, maxConnectionsPerAddress: Int = 256, requestHeadTimeout: Duration = .seconds(20)
    ) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.requestHeadTimeout = requestHeadTimeout
    }
}

/// Takes over a connection on the HTTP port that turned out to speak STUN (see ``HTTPHost``); `tls` says
/// whether it came through TLS. Called on the channel's event loop.
public typealias StreamAdopter = @Sendable (_ channel: any Channel, _ tls: Bool) throws -> Void

/// What every connection on the HTTP port passes before HTTP parsing: the connection caps, the request-head
/// timer, TLS, and (when STUN shares the port) the first-byte split.
struct ConnectionFront: Sendable {
    let limiter: ConnectionLimiter
    let headTimeout: TimeAmount
    let headTimeouts: ManagedAtomic<Int>
    let tls: ReloadingTLSContext?
    let adoptStream: StreamAdopter?
}

/// Hummingbird's HTTP/1 (and WebSocket upgrade) child channel behind a ``ConnectionFront``.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        /// The HTTP connection once its first request head arrived; nil when the connection closed (refused,
        /// timed out) before it did, or went to STUN.
        let http: EventLoopFuture<Base.Value?>
    }

    let base: Base
    let front: ConnectionFront

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let headArrived = channel.eventLoop.makePromise(of: Bool.self)
        let http = channel.eventLoop.makePromise(of: Base.Value?.self)
        let headTimer = RequestHeadTimeoutHandler(
            timeout: front.headTimeout, timeouts: front.headTimeouts, headArrived: headArrived)
        do {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(ConnectionAdmissionHandler(limiter: front.limiter))
            if let tls = front.tls { try sync.addHandler(NIOSSLServerHandler(context: tls.current)) }
            try sync.addHandler(headTimer)
            if let adoptStream = front.adoptStream {
                let tls = front.tls != nil
                try sync.addHandler(
                    FirstByteSplitter { isSTUN in
                        guard isSTUN else { return serveHTTP(channel, logger, headArrived, http) }
                        try adoptStream(channel, tls)
                        channel.pipeline.syncOperations.removeHandler(headTimer, promise: nil)
                        http.succeed(nil)
                        return channel.eventLoop.makeSucceededVoidFuture()
                    })
            } else {
                _ = serveHTTP(channel, logger, headArrived, http)
            }
        } catch {
            headArrived.succeed(false)
            http.succeed(nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        channel.closeFuture.whenComplete { _ in http.succeed(nil) }
        return channel.eventLoop.makeSucceededFuture(Value(channel: channel, http: http.futureResult))
    }

    /// Adds Hummingbird's HTTP handlers; `http` gets them once the first request head has arrived.
    private func serveHTTP(
        _ channel: any Channel, _ logger: Logger, _ headArrived: EventLoopPromise<Bool>,
        _ http: EventLoopPromise<Base.Value?>
    ) -> EventLoopFuture<Void> {
        let setUp = base.setup(channel: channel, logger: logger)
        setUp.and(headArrived.futureResult).whenComplete { result in
            switch result {
            case .success((let value, true)): http.succeed(value)
            case .success: http.succeed(nil)
            case .failure:
                http.succeed(nil)
                channel.close(promise: nil)
            }
        }
        return setUp.map { _ in }
    }

    func handle(value: Value, logger: Logger) async {
        // A connection closed before its first request head (over a cap, or timed out) has nothing to serve;
        // it is counted where it was closed rather than logged as an error per connection. One that went to
        // STUN is served by the relay's handlers.
        guard let http = try? await value.http.get() else { return }
        await base.handle(value: http, logger: logger)
    }
}
