import NIOCore
import STUN
import TURN

/// One TCP or TLS client connection: Binding requests answered here; TURN requests and ChannelData go to
/// this loop's ``TURNLoop`` when TURN is on, and the connection's allocation ends with it.
///
/// A connection must complete its TLS handshake and first message within the first-message timeout, and
/// one without a live allocation is closed after the idle timeout without a message. Reading stops while
/// the connection's outbound buffer is above its high-water mark (see ``StreamLimits``), through the
/// `BackPressureHandler` in front of this one.
final class StreamListenerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = STUNStreamFrame
    typealias OutboundOut = ByteBuffer

    private let responder: BindingResponder
    private let counters: TrafficCounters
    private let turn: TURNLoop?
    private let transport: ClientTransport
    private let firstMessageTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var fiveTuple: FiveTuple?
    /// Binding responses of the current read burst, back to back: one write (and one TLS record) per burst,
    /// not per response. Written before any TURN message is handled, so answers keep their order.
    private var answers = ByteBuffer()
    private var needsFlush = false
    private var receivedFirst = false
    /// When the last read burst that carried a complete message ended (read once per burst, not per
    /// message): bytes of an unfinished frame dripping in do not keep a connection alive.
    private var lastRead = NIODeadline.now()
    private var framedSinceReadComplete = false
    private var timer: Scheduled<Void>?

    init(
        responder: BindingResponder, counters: TrafficCounters, turn: TURNLoop?, transport: ClientTransport,
        limits: StreamLimits
    ) {
        self.responder = responder
        self.counters = counters
        self.turn = turn
        self.transport = transport
        self.firstMessageTimeout = TimeAmount(limits.firstMessageTimeout)
        self.idleTimeout = TimeAmount(limits.idleTimeout)
    }

    /// A connection another listener handed over is active already: it starts here, not in channelActive.
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard fiveTuple == nil else { return }
        if let client = context.channel.remoteAddress.flatMap(TransportAddress.init),
            let server = context.channel.localAddress.flatMap(TransportAddress.init)
        {
            let fiveTuple = FiveTuple(client: client, server: server, transport: transport)
            self.fiveTuple = fiveTuple
            turn?.streamOpened(context.channel, fiveTuple: fiveTuple)
        }
        counters.recordConnection()
        schedule(context, after: firstMessageTimeout)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        if let fiveTuple { turn?.streamClosed(fiveTuple) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let fiveTuple else { return }
        framedSinceReadComplete = true
        if !receivedFirst {
            receivedFirst = true
            cancelTimer()
            schedule(context, after: idleTimeout)
        }
        let frame = unwrapInboundIn(data)
        switch frame {
        case .stun(let message):
            if let turn, TURNTraffic(message) != nil {
                writeAnswers(context)
                do {
                    turn.handle(try STUNMessageView(datagram: message), from: fiveTuple)
                } catch {
                    counters.record(.dropped(.malformed(error.code)))
                }
                return
            }
            if answers.capacity == 0 { answers = context.channel.allocator.buffer(capacity: 1024) }
            let start = answers.writerIndex
            let outcome = responder.respond(to: message, from: fiveTuple.client, into: &answers)
            counters.record(outcome)
            if case .dropped = outcome { answers.moveWriterIndex(to: start) }
        case .channelData(let bytes):
            guard let turn else { return counters.recordIgnored() }
            writeAnswers(context)
            turn.channelData(bytes, from: fiveTuple)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if framedSinceReadComplete {
            framedSinceReadComplete = false
            lastRead = .now()
        }
        turn?.flush()
        writeAnswers(context)
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// Writes the Binding responses gathered so far; the next ones go into a fresh buffer.
    private func writeAnswers(_ context: ChannelHandlerContext) {
        guard answers.readableBytes > 0 else { return }
        context.write(wrapOutboundOut(answers), promise: nil)
        answers = ByteBuffer()
        needsFlush = true
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is STUNStreamFramingError || error is ByteToMessageDecoderError {
            counters.recordBadFraming()
        }
        context.close(promise: nil)
    }

    // MARK: Timeouts

    private func schedule(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.timerFired(context)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    /// Before the first message: the connection took too long. After it: closed if nothing was read for
    /// the idle timeout and it holds no allocation; otherwise checked again when it next could be idle.
    private func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        if receivedFirst {
            let idleFor = NIODeadline.now() - lastRead
            if let fiveTuple, turn?.hasAllocation(fiveTuple) == true {
                return schedule(context, after: idleTimeout)
            }
            if idleFor < idleTimeout { return schedule(context, after: idleTimeout - idleFor) }
        }
        counters.recordTimeout()
        context.close(promise: nil)
    }
}
