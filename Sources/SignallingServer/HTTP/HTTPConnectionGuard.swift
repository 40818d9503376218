import Atomics
import ConnectionLimits
import HummingbirdCore
import Logging
import NIOCore

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

/// Hummingbird's HTTP/1 (and WebSocket upgrade) child channel with the connection caps and the request-head
/// timer in front of it, where they see a connection before any HTTP parsing.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let base: Base.Value
        /// True once the first request head arrived; false when the connection closed (refused, timed out)
        /// before it did.
        let headArrived: EventLoopFuture<Bool>
        var channel: any Channel { base.channel }
    }

    let base: Base
    let limiter: ConnectionLimiter
    let headTimeout: TimeAmount
    let headTimeouts: ManagedAtomic<Int>

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let headArrived = channel.eventLoop.makePromise(of: Bool.self)
        do {
            try channel.pipeline.syncOperations.addHandlers([
                ConnectionAdmissionHandler(limiter: limiter),
                RequestHeadTimeoutHandler(timeout: headTimeout, timeouts: headTimeouts, headArrived: headArrived),
            ])
        } catch {
            headArrived.succeed(false)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger).map {
            Value(base: $0, headArrived: headArrived.futureResult)
        }
    }

    func handle(value: Value, logger: Logger) async {
        // A connection closed before its first request head (over a cap, or timed out) has nothing to serve;
        // it is counted where it was closed rather than logged as an error per connection.
        guard (try? await value.headArrived.get()) == true else { return }
        await base.handle(value: value.base, logger: logger)
    }
}

/// Closes a connection whose first request head (up to the blank line) has not arrived within the timeout,
/// however slowly its bytes drip in; once the head is complete it steps out of the pipeline.
final class RequestHeadTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: TimeAmount
    private let timeouts: ManagedAtomic<Int>
    private let headArrived: EventLoopPromise<Bool>
    private var timer: Scheduled<Void>?
    /// Line feeds seen in a row (carriage returns skipped): two end the head. Line breaks before the
    /// request line do not count (the HTTP parser skips them, RFC 9112 §2.2).
    private var lineFeeds = 0
    private var started = false
    private var headComplete = false

    init(timeout: TimeAmount, timeouts: ManagedAtomic<Int>, headArrived: EventLoopPromise<Bool>) {
        self.timeout = timeout
        self.timeouts = timeouts
        self.headArrived = headArrived
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.timer = nil
            guard !handler.headComplete else { return }
            handler.timeouts.wrappingIncrement(ordering: .relaxed)
            handler.headArrived.succeed(false)
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        headArrived.succeed(headComplete)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !headComplete { headArrived.succeed(false) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !headComplete {
            let bytes = unwrapInboundIn(data)
            for byte in bytes.readableBytesView {
                switch byte {
                case UInt8(ascii: "\n") where started: lineFeeds += 1
                case UInt8(ascii: "\r"), UInt8(ascii: "\n"): continue
                default:
                    started = true
                    lineFeeds = 0
                }
                if lineFeeds == 2 {
                    headComplete = true
                    break
                }
            }
        }
        if headComplete { headArrived.succeed(true) }
        context.fireChannelRead(data)
        if headComplete { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }
}
