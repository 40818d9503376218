import NIOCore
import STUN

/// The UDP hot path: one per SO_REUSEPORT socket and event loop. Synchronous, writes without promises and
/// flushes once per read burst (recvmmsg batch).
final class UDPBindingHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Enough for a Binding success with an IPv6 address and a 128-byte SOFTWARE value.
    private static let responseCapacity = 256

    private let responder: BindingResponder
    private let counters: TrafficCounters
    private var needsFlush = false

    init(responder: BindingResponder, counters: TrafficCounters) {
        self.responder = responder
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let source = TransportAddress(envelope.remoteAddress) else { return }
        var out = context.channel.allocator.buffer(capacity: Self.responseCapacity)
        let outcome = responder.respond(to: envelope.data, from: source, into: &out)
        counters.record(outcome)
        if case .dropped = outcome { return }
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: out)), promise: nil)
        needsFlush = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    /// ICMP errors surface here as write or read errors; a UDP listener keeps serving everyone else.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
