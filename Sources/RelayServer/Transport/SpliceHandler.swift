import NIOCore

/// One end of an RFC 6062 pipe: bytes read here are written to the partner channel (possibly on another
/// event loop), bytes the partner reads arrive as writes here. Until the partner is known, reads are
/// buffered; reading pauses while too much is buffered or in flight, so a fast sender cannot grow memory.
final class SpliceHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes buffered or unacknowledged by the partner before reading pauses.
    private static let highWater = 256 * 1024

    private var partner: (any Channel)?
    private var waiting: [ByteBuffer] = []
    private var outstanding = 0
    private var paused = false
    /// The last write to the partner: closing waits for it, so the end of a stream is not cut off.
    private var lastWrite: EventLoopFuture<Void>?
    private var context: ChannelHandlerContext?
    private let onClose: () -> Void

    init(partner: (any Channel)? = nil, onClose: @escaping () -> Void = {}) {
        self.partner = partner
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Joined to a connection that closed before the pipe was built: no channelInactive will come.
        if !context.channel.isActive, let partner { partner.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Starts forwarding to `partner`, buffered bytes first.
    func join(_ partner: any Channel) {
        self.partner = partner
        let buffered = waiting
        waiting = []
        outstanding = 0
        for bytes in buffered { forward(bytes, to: partner) }
        updateReading()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if let partner {
            forward(bytes, to: partner)
        } else {
            waiting.append(bytes)
            outstanding += bytes.readableBytes
        }
        updateReading()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let partner {
            if let lastWrite {
                lastWrite.whenComplete { _ in partner.close(promise: nil) }
            } else {
                partner.close(promise: nil)
            }
        }
        onClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func forward(_ bytes: ByteBuffer, to partner: any Channel) {
        let count = bytes.readableBytes
        outstanding += count
        guard let loop = context?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let written = partner.writeAndFlush(bytes)
        lastWrite = written
        written.hop(to: loop).whenComplete { _ in
            bound.value.outstanding -= count
            bound.value.updateReading()
        }
    }

    private func updateReading() {
        guard let context else { return }
        let shouldPause = outstanding > Self.highWater
        guard shouldPause != paused else { return }
        paused = shouldPause
        context.channel.setOption(.autoRead, value: !shouldPause).whenComplete { _ in }
        if !shouldPause { context.read() }
    }
}
