import NIOCore
import STUN

/// Reads an allocation's relay socket: each peer datagram goes to the allocation's client as ChannelData
/// or a Data indication, or is dropped without a permission.
final class RelayPeerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let turn: TURNLoop
    private let relay: RelaySocket

    init(turn: TURNLoop, relay: RelaySocket) {
        self.turn = turn
        self.relay = relay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        turn.peerData(envelope.data, from: envelope.remoteAddress, relay: relay)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        turn.flush()
    }

    /// ICMP errors from peers surface as read errors; the allocation lives on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
