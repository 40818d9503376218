import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A UDP socket for tests: sends arbitrary bytes and collects whatever comes back.
public final class TestUDPSocket: Sendable {
    private let channel: any Channel
    private let inbox: NIOLockedValueBox<[AddressedEnvelope<ByteBuffer>]>

    public static func bind(ipv6: Bool = false) async throws -> TestUDPSocket {
        let inbox = NIOLockedValueBox<[AddressedEnvelope<ByteBuffer>]>([])
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox))
                }
            }
            .bind(host: ipv6 ? "::1" : "127.0.0.1", port: 0).get()
        return TestUDPSocket(channel: channel, inbox: inbox)
    }

    private init(channel: any Channel, inbox: NIOLockedValueBox<[AddressedEnvelope<ByteBuffer>]>) {
        self.channel = channel
        self.inbox = inbox
    }

    public var localAddress: SocketAddress? { channel.localAddress }

    public func send(_ bytes: ByteBuffer, to address: SocketAddress) async throws {
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: bytes)).get()
    }

    /// Sends `datagrams` with one flush, so they leave back to back (one sendmmsg).
    public func sendBurst(_ datagrams: [ByteBuffer], to address: SocketAddress) async throws {
        let writes = datagrams.map { channel.write(AddressedEnvelope(remoteAddress: address, data: $0)) }
        channel.flush()
        for write in writes { try await write.get() }
    }

    /// The next datagram received, or nil if none arrives within `timeout`.
    public func receive(timeout: Duration = .seconds(2)) async throws -> ByteBuffer? {
        try await pollInbox(inbox, timeout: timeout)?.data
    }

    /// The next datagram with its source address, or nil if none arrives within `timeout`.
    public func receiveEnvelope(timeout: Duration = .seconds(2)) async throws -> AddressedEnvelope<ByteBuffer>? {
        try await pollInbox(inbox, timeout: timeout)
    }

    public func close() async { try? await channel.close() }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let inbox: NIOLockedValueBox<[AddressedEnvelope<ByteBuffer>]>
        init(inbox: NIOLockedValueBox<[AddressedEnvelope<ByteBuffer>]>) { self.inbox = inbox }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            inbox.withLockedValue { $0.append(envelope) }
        }
    }
}

/// A TCP connection for tests: writes raw bytes, collects raw bytes, notices the peer closing.
public final class TestTCPConnection: Sendable {
    private let channel: any Channel
    private let received: NIOLockedValueBox<ByteBuffer>

    /// Connects to `address`, through TLS when `tls` is given (the handshake completes before it returns).
    public static func connect(to address: SocketAddress, tls: NIOSSLContext? = nil) async throws
        -> TestTCPConnection
    {
        let received = NIOLockedValueBox(ByteBuffer())
        let handshake = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                        try sync.addHandler(HandshakeWatcher(done: handshake))
                    }
                    try sync.addHandler(Collector(received: received))
                }
            }
            .connect(to: address).get()
        if tls == nil { handshake.succeed() }
        channel.closeFuture.whenComplete { _ in handshake.fail(ChannelError.ioOnClosedChannel) }
        do {
            try await handshake.futureResult.get()
        } catch {
            try? await channel.close()
            throw error
        }
        return TestTCPConnection(channel: channel, received: received)
    }

    /// Succeeds when the TLS handshake completes; fails with the handshake's error.
    private final class HandshakeWatcher: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let done: EventLoopPromise<Void>
        init(done: EventLoopPromise<Void>) { self.done = done }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event { done.succeed() }
            context.fireUserInboundEventTriggered(event)
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.fail(error)
            context.fireErrorCaught(error)
        }
    }

    private init(channel: any Channel, received: NIOLockedValueBox<ByteBuffer>) {
        self.channel = channel
        self.received = received
    }

    public var localAddress: SocketAddress? { channel.localAddress }
    public var isActive: Bool { channel.isActive }

    public func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes).get()
    }

    /// Waits until at least `count` bytes have arrived, then returns and consumes exactly `count`.
    public func read(count: Int, timeout: Duration = .seconds(2)) async throws -> ByteBuffer? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let slice = received.withLockedValue { $0.readableBytes >= count ? $0.readSlice(length: count) : nil }
            if let slice { return slice }
            try await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// Every byte received and not yet read.
    public func unread() -> ByteBuffer { received.withLockedValue { $0 } }

    /// Waits up to `timeout` for the server to close the connection.
    public func waitForClose(timeout: Duration = .seconds(2)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return !channel.isActive
    }

    public func close() async { try? await channel.close() }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<ByteBuffer>
        init(received: NIOLockedValueBox<ByteBuffer>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.withLockedValue { _ = $0.writeBuffer(&bytes) }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}

func pollInbox<T: Sendable>(_ inbox: NIOLockedValueBox<[T]>, timeout: Duration) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    while true {
        let next = inbox.withLockedValue { $0.isEmpty ? nil : $0.removeFirst() }
        if let next { return next }
        if ContinuousClock.now >= deadline { return nil }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(2), _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(5))
    }
    return true
}

/// Polls an asynchronous `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(2), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(5))
    }
    return true
}
