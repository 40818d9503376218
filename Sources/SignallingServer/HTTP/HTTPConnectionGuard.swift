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
    typealias Value = Base.Value

    let base: Base
    let limiter: ConnectionLimiter
    let headTimeout: TimeAmount
    let headTimeouts: ManagedAtomic<Int>

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandlers([
                ConnectionAdmissionHandler(limiter: limiter),
                RequestHeadTimeoutHandler(timeout: headTimeout, timeouts: headTimeouts),
            ])
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Closes a connection whose first request head (up to the blank line) has not arrived within the timeout,
/// however slowly its bytes drip in; once the head is complete it steps out of the pipeline.
final class RequestHeadTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: TimeAmount
    private let timeouts: ManagedAtomic<Int>
    private var timer: Scheduled<Void>?
    /// Line feeds seen in a row (carriage returns skipped): two end the head.
    private var lineFeeds = 0
    private var headComplete = false

    init(timeout: TimeAmount, timeouts: ManagedAtomic<Int>) {
        self.timeout = timeout
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.timer = nil
            guard !handler.headComplete else { return }
            handler.timeouts.wrappingIncrement(ordering: .relaxed)
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !headComplete {
            let bytes = unwrapInboundIn(data)
            for byte in bytes.readableBytesView {
                switch byte {
                case UInt8(ascii: "\n"): lineFeeds += 1
                case UInt8(ascii: "\r"): continue
                default: lineFeeds = 0
                }
                if lineFeeds == 2 {
                    headComplete = true
                    break
                }
            }
        }
        context.fireChannelRead(data)
        if headComplete { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }
}
