import NIOCore
import NIOPosix
import NIOSSL
import STUN

/// One client connection to a STUN/TURN server over UDP, TCP or TLS: sends whole messages and queues
/// each message that arrives (a datagram, or a STUN or ChannelData frame cut from the stream) for
/// ``next(within:)``. A thin driver for the client state machines; the machines decide what to send.
public final class MessageLink: Sendable {
    public let server: SocketAddress
    public let transport: STUNServerURL.Transport
    private let channel: any Channel
    private let inbox: NIOLoopBound<Inbox>

    /// Connects (TCP, TLS) or binds a local socket (UDP) toward `server`.
    public static func open(
        to server: SocketAddress, transport: STUNServerURL.Transport, serverName: String? = nil,
        trust: TLSTrust = .systemDefault, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> MessageLink {
        let loop = group.next()
        let inbox = try await loop.submit { NIOLoopBound(Inbox(eventLoop: loop), eventLoop: loop) }.get()
        let channel: any Channel
        switch transport {
        case .udp:
            channel = try await DatagramBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            DatagramInboxHandler(inbox: inbox.value, server: server))
                    }
                }
                .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        case .tcp, .tls:
            let tls = transport == .tls ? try STUNClient.makeClientTLSContext(trust) : nil
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addSTUNStreamHandlers(
                            tls: tls, serverHostname: serverName, StreamInboxHandler(inbox: inbox.value))
                    }
                }
                .connect(to: server).get()
        }
        return MessageLink(server: server, transport: transport, channel: channel, inbox: inbox)
    }

    private init(
        server: SocketAddress, transport: STUNServerURL.Transport, channel: any Channel, inbox: NIOLoopBound<Inbox>
    ) {
        self.server = server
        self.transport = transport
        self.channel = channel
        self.inbox = inbox
    }

    /// The local address of the client's socket.
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Sends one whole message (a datagram, or bytes on the stream).
    public func send(_ bytes: ByteBuffer) async throws {
        if transport == .udp {
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: bytes))
        } else {
            try await channel.writeAndFlush(bytes)
        }
    }

    /// The next message from the server, or nil when none arrives within `timeout`; throws
    /// ``STUNClientError/connectionClosed`` once the connection is gone and the queue is empty.
    public func next(within timeout: TimeAmount) async throws -> ByteBuffer? {
        let inbox = self.inbox
        return try await channel.eventLoop.flatSubmit { inbox.value.next(within: timeout) }.get()
    }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }
}

/// Messages received and not yet asked for, and at most one waiter; lives on the channel's loop.
final class Inbox {
    private let eventLoop: any EventLoop
    private var queue = CircularBuffer<ByteBuffer>()
    private var waiter: (promise: EventLoopPromise<ByteBuffer?>, timer: Scheduled<Void>)?
    private var closed = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func next(within timeout: TimeAmount) -> EventLoopFuture<ByteBuffer?> {
        if let first = queue.popFirst() { return eventLoop.makeSucceededFuture(first) }
        if closed { return eventLoop.makeFailedFuture(STUNClientError.connectionClosed) }
        if let earlier = waiter {
            waiter = nil
            earlier.timer.cancel()
            earlier.promise.succeed(nil)
        }
        let promise = eventLoop.makePromise(of: ByteBuffer?.self)
        let timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard let current = waiter, current.promise.futureResult === promise.futureResult else { return }
            waiter = nil
            promise.succeed(nil)
        }
        waiter = (promise, timer)
        return promise.futureResult
    }

    func deliver(_ bytes: ByteBuffer) {
        if let waiter {
            self.waiter = nil
            waiter.timer.cancel()
            waiter.promise.succeed(bytes)
        } else {
            queue.append(bytes)
        }
    }

    func close() {
        closed = true
        if let waiter {
            self.waiter = nil
            waiter.timer.cancel()
            waiter.promise.fail(STUNClientError.connectionClosed)
        }
    }
}

/// Queues datagrams from the server; others are dropped.
final class DatagramInboxHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let inbox: Inbox
    private let server: SocketAddress

    init(inbox: Inbox, server: SocketAddress) {
        self.inbox = inbox
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if envelope.remoteAddress == server { inbox.deliver(envelope.data) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Queues the frames cut from the stream; a framing or TLS error closes the connection.
final class StreamInboxHandler: ChannelInboundHandler {
    typealias InboundIn = STUNStreamFrame
    private let inbox: Inbox

    init(inbox: Inbox) {
        self.inbox = inbox
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .stun(let bytes), .channelData(let bytes): inbox.deliver(bytes)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
