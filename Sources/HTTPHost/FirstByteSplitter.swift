import NIOCore

/// Tells STUN from HTTP by a connection's first byte (after any TLS), sets the pipeline up for the one it
/// is, then passes on everything it held and leaves. A STUN message starts with two zero bits (0x00–0x3F);
/// an HTTP request with a method's capital letter. ChannelData (0x40–0x7F) cannot come first: a channel is
/// bound by a STUN request on the same connection. The line breaks an HTTP client may send before its
/// request line (RFC 9112 §2.2) count as HTTP.
final class FirstByteSplitter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    /// Sets the pipeline up behind this handler; the future completes when the bytes may flow.
    typealias Decide = (_ isSTUN: Bool) throws -> EventLoopFuture<Void>

    private var decide: Decide?
    private var held: [NIOAny] = []
    private var readCompleteHeld = false
    private var waiting = false

    init(decide: @escaping Decide) {
        self.decide = decide
    }

    static func isSTUN(firstByte byte: UInt8) -> Bool {
        byte & 0xC0 == 0 && byte != UInt8(ascii: "\r") && byte != UInt8(ascii: "\n")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !waiting else { return held.append(data) }
        guard let first = unwrapInboundIn(data).readableBytesView.first, let decide else { return }
        self.decide = nil
        held.append(data)
        waiting = true
        do {
            try decide(Self.isSTUN(firstByte: first)).hop(to: context.eventLoop).assumeIsolated().whenComplete {
                switch $0 {
                case .success: self.release(context)
                case .failure: context.close(promise: nil)
                }
            }
        } catch {
            context.close(promise: nil)
        }
    }

    /// A server shutting down closes a connection that has not said yet what it is: no HTTP handler is there
    /// to hear the quiesce event, and Hummingbird waits for every connection to end.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, decide != nil {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if waiting { readCompleteHeld = true } else { context.fireChannelReadComplete() }
    }

    private func release(_ context: ChannelHandlerContext) {
        waiting = false
        let held = self.held
        self.held = []
        for data in held { context.fireChannelRead(data) }
        if readCompleteHeld { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
