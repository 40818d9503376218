import NIOCore
import STUN

/// Answers Binding requests on one TCP or TLS connection.
final class StreamBindingHandler: ChannelInboundHandler {
    typealias InboundIn = STUNStreamFrame
    typealias OutboundOut = ByteBuffer

    private let responder: BindingResponder
    private let counters: TrafficCounters
    private var source: TransportAddress?
    private var needsFlush = false

    init(responder: BindingResponder, counters: TrafficCounters) {
        self.responder = responder
        self.counters = counters
    }

    func channelActive(context: ChannelHandlerContext) {
        source = context.channel.remoteAddress.flatMap(TransportAddress.init)
        counters.recordConnection()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let source else { return }
        switch unwrapInboundIn(data) {
        case .stun(let message):
            var out = context.channel.allocator.buffer(capacity: 256)
            let outcome = responder.respond(to: message, from: source, into: &out)
            counters.record(outcome)
            if case .dropped = outcome { return }
            context.write(wrapOutboundOut(out), promise: nil)
            needsFlush = true
        case .channelData:
            counters.recordIgnored()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is STUNStreamFramingError || error is ByteToMessageDecoderError {
            counters.recordBadFraming()
        }
        context.close(promise: nil)
    }
}
