import Atomics
import NIOCore

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
