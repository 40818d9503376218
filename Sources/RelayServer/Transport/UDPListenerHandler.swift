import NIOCore
import STUN
import TURN

/// The UDP hot path: one per SO_REUSEPORT socket and event loop.
///
/// Binding requests are answered here. Responses of one read burst (up to `maxMessagesPerRead` recvmmsg
/// calls) are written back to back into one buffer, then sent as slices of it on `channelReadComplete`
/// with one flush (sendmmsg): one buffer allocation per burst rather than per packet, and writes without
/// promises. TURN requests, Send indications and ChannelData go to this loop's ``TURNLoop`` when TURN is on.
final class UDPListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Room for a full burst of Binding responses; the buffer grows if a burst needs more.
    private static let burstCapacity = 16 * 1024

    private let responder: BindingResponder
    private let counters: TrafficCounters
    private let turn: TURNLoop?
    private var local: TransportAddress?
    private var burst = ByteBuffer()
    private var pending: [(address: SocketAddress, offset: Int, length: Int)] = []

    init(responder: BindingResponder, counters: TrafficCounters, turn: TURNLoop?) {
        self.responder = responder
        self.counters = counters
        self.turn = turn
        pending.reserveCapacity(256)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        burst = context.channel.allocator.buffer(capacity: Self.burstCapacity)
    }

    func channelActive(context: ChannelHandlerContext) {
        local = context.channel.localAddress.flatMap(TransportAddress.init)
        if let local { turn?.registerListener(context.channel, address: local) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let source = TransportAddress(envelope.remoteAddress) else { return }
        if let turn, let local, let kind = TURNTraffic(envelope.data) {
            let fiveTuple = FiveTuple(client: source, server: local, transport: .udp)
            switch kind {
            case .channelData:
                turn.channelData(envelope.data, from: fiveTuple)
            case .stun:
                do {
                    turn.handle(try STUNMessageView(datagram: envelope.data), from: fiveTuple)
                } catch {
                    counters.record(.dropped(.malformed(error.code)))
                }
            }
            return
        }
        let offset = burst.writerIndex
        let outcome = responder.respond(to: envelope.data, from: source, into: &burst)
        counters.record(outcome)
        if case .dropped = outcome { return }
        pending.append((envelope.remoteAddress, offset, burst.writerIndex - offset))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        turn?.flush()
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

/// What on a listener belongs to TURN rather than to the Binding responder: ChannelData (first two bits
/// 01) and STUN messages of any method but Binding.
enum TURNTraffic {
    case stun, channelData

    init?(_ bytes: ByteBuffer) {
        guard let type = bytes.getInteger(at: bytes.readerIndex, as: UInt16.self) else { return nil }
        switch type >> 14 {
        case 0b01: self = .channelData
        case 0b00 where type & 0x3EEF != STUNMethod.binding.rawValue: self = .stun
        default: return nil
        }
    }
}
