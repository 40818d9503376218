import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The connection caps of one kind of listener (STUN/TURN over TCP and TLS, or HTTP), shared by all its
/// sockets and event loops. A connection over a cap is closed as soon as it is accepted; the first refusal
/// in every ten seconds is logged at warning with how many were refused since.
public final class ConnectionLimiter: Sendable {
    /// What the limiter guards, for logs ("stun-stream", "http").
    public let name: String
    private let tally: NIOLockedValueBox<ConnectionTally>
    private let logger: Logger
    private let refusedTotal = ManagedAtomic<Int>(0)
    private let lastWarning = NIOLockedValueBox<(at: ContinuousClock.Instant, refused: Int)?>(nil)

    public init(name: String, limits: ConnectionTally.Limits, logger: Logger) {
        self.name = name
        self.tally = NIOLockedValueBox(ConnectionTally(limits: limits))
        self.logger = logger
    }

    public var limits: ConnectionTally.Limits { tally.withLockedValue { $0.limits } }
    /// Connections open now.
    public var open: Int { tally.withLockedValue { $0.total } }
    /// Connections refused since start.
    public var refused: Int { refusedTotal.load(ordering: .relaxed) }

    /// What ``admit(_:)`` decided.
    public enum Admission: Sendable, Hashable {
        /// Counted: release the source when the connection closes.
        case admitted(ConnectionSource)
        /// Not an IP connection; not counted.
        case uncounted
        case refused(ConnectionTally.Refusal)
    }

    /// Counts a connection from `address`, or refuses it; a refusal is counted and logged.
    public func admit(_ address: SocketAddress) -> Admission {
        guard let source = ConnectionSource(address) else { return .uncounted }
        guard let refusal = tally.withLockedValue({ $0.open(from: source) }) else { return .admitted(source) }
        let refused = refusedTotal.wrappingIncrementThenLoad(ordering: .relaxed)
        warn(refusal, source: source, refused: refused)
        return .refused(refusal)
    }

    /// Forgets a connection ``admit(_:)`` counted.
    public func release(_ source: ConnectionSource) {
        tally.withLockedValue { $0.close(from: source) }
    }

    private func warn(_ refusal: ConnectionTally.Refusal, source: ConnectionSource, refused: Int) {
        let now = ContinuousClock.now
        let since: Int? = lastWarning.withLockedValue { last in
            if let previous = last, now - previous.at < .seconds(10) { return nil }
            defer { last = (now, refused) }
            return refused - (last?.refused ?? 0)
        }
        guard let since else { return }
        let limits = self.limits
        logger.warning(
            "connection refused: \(refusal.rawValue) reached",
            metadata: [
                "listener": "\(name)", "source": "\(source)",
                "cap": "\(refusal == .total ? limits.total : limits.perSource)",
                "refusedSinceLastWarning": "\(since)",
            ])
    }
}

/// The first handler of a guarded connection: counts it against its ``ConnectionLimiter`` when it becomes
/// active, or closes it at once when a cap is reached (nothing after this handler sees it). The count is
/// released when the channel closes, whatever handlers it has by then (a WebSocket upgrade replaces them).
public final class ConnectionAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    private let limiter: ConnectionLimiter
    private var decided = false
    private var refused = false

    public init(limiter: ConnectionLimiter) { self.limiter = limiter }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        admit(context)
        if !refused { context.fireChannelActive() }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !refused { context.fireChannelRead(data) }
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !decided, let address = context.channel.remoteAddress else { return }
        decided = true
        switch limiter.admit(address) {
        case .refused:
            refused = true
            context.close(promise: nil)
        case .uncounted:
            break
        case .admitted(let source):
            let limiter = self.limiter
            context.channel.closeFuture.whenComplete { _ in limiter.release(source) }
        }
    }
}
