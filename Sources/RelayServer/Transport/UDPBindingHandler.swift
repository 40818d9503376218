import NIOCore
import STUN

/// The UDP hot path: one per SO_REUSEPORT socket and event loop.
///
/// Responses of one read burst (up to `maxMessagesPerRead` recvmmsg calls) are written back to back into
/// one buffer, then sent as slices of it on `channelReadComplete` with one flush (sendmmsg): one buffer
/// allocation per burst rather than per packet, and writes without promises.
final class UDPBindingHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Room for a full burst of Binding responses; the buffer grows if a burst needs more.
    private static let burstCapacity = 16 * 1024

    private let responder: BindingResponder
    private let counters: TrafficCounters
    private var burst = ByteBuffer()
    private var pending: [(address: SocketAddress, offset: Int, length: Int)] = []

    init(responder: BindingResponder, counters: TrafficCounters) {
        self.responder = responder
        self.counters = counters
        pending.reserveCapacity(256)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        burst = context.channel.allocator.buffer(capacity: Self.burstCapacity)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let source = TransportAddress(envelope.remoteAddress) else { return }
        let offset = burst.writerIndex
        let outcome = responder.respond(to: envelope.data, from: source, into: &burst)
        counters.record(outcome)
        if case .dropped = outcome { return }
        pending.append((envelope.remoteAddress, offset, burst.writerIndex - offset))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !pending.isEmpty else { return }
        for response in pending {
            let bytes = burst.getSlice(at: response.offset, length: response.length)!
            context.write(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: response.address, data: bytes)), promise: nil)
        }
        pending.removeAll(keepingCapacity: true)
        // The slices keep the old buffer alive until sent; the next burst writes into a fresh one.
        burst = context.channel.allocator.buffer(capacity: Self.burstCapacity)
        context.flush()
    }

    /// ICMP errors surface here as write or read errors; a UDP listener keeps serving everyone else.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
