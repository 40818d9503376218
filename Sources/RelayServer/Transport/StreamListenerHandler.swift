import NIOCore
import STUN
import TURN

/// One TCP or TLS client connection: Binding requests answered here; TURN requests and ChannelData go to
/// this loop's ``TURNLoop`` when TURN is on, and the connection's allocation ends with it.
final class StreamListenerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = STUNStreamFrame
    typealias OutboundOut = ByteBuffer

    private let responder: BindingResponder
    private let counters: TrafficCounters
    private let turn: TURNLoop?
    private var fiveTuple: FiveTuple?
    private var needsFlush = false

    init(responder: BindingResponder, counters: TrafficCounters, turn: TURNLoop?, transport: ClientTransport) {
        self.responder = responder
        self.counters = counters
        self.turn = turn
        self.transport = transport
    }

    private let transport: ClientTransport

    func channelActive(context: ChannelHandlerContext) {
        if let client = context.channel.remoteAddress.flatMap(TransportAddress.init),
            let server = context.channel.localAddress.flatMap(TransportAddress.init)
        {
            let fiveTuple = FiveTuple(client: client, server: server, transport: transport)
            self.fiveTuple = fiveTuple
            turn?.streamOpened(context.channel, fiveTuple: fiveTuple)
        }
        counters.recordConnection()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let fiveTuple { turn?.streamClosed(fiveTuple) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let fiveTuple else { return }
        let frame = unwrapInboundIn(data)
        switch frame {
        case .stun(let message):
            if let turn, TURNTraffic(message) != nil {
                do {
                    turn.handle(try STUNMessageView(datagram: message), from: fiveTuple)
                } catch {
                    counters.record(.dropped(.malformed(error.code)))
                }
                return
            }
            var out = context.channel.allocator.buffer(capacity: 256)
            let outcome = responder.respond(to: message, from: fiveTuple.client, into: &out)
            counters.record(outcome)
            if case .dropped = outcome { return }
            context.write(wrapOutboundOut(out), promise: nil)
            needsFlush = true
        case .channelData(let bytes):
            guard let turn else { return counters.recordIgnored() }
            turn.channelData(bytes, from: fiveTuple)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        turn?.flush()
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
