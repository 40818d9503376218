import NIOCore
import NIOPosix
import NIOSSL
import STUN

/// Why a client transaction failed.
public enum STUNClientError: Error, CustomStringConvertible, Sendable {
    case resolutionFailed(String)
    case timedOut(Duration)
    case errorResponse(STUNErrorCode)
    case connectionClosed

    public var description: String {
        switch self {
        case .resolutionFailed(let host): "cannot resolve \(host)"
        case .timedOut(let after): "no response after \(after)"
        case .errorResponse(let error): "error response \(error)"
        case .connectionClosed: "connection closed before a response"
        }
    }
}

/// How a TLS client checks the server's certificate.
public enum TLSTrust: Sendable {
    case systemDefault
    case certificateFile(String)
    /// No verification: for development certificates only.
    case insecureNoVerification
}

/// A NIO driver for client-side STUN transactions over UDP, TCP and TLS.
public enum STUNClient {
    /// The answer to a Binding request.
    public struct BindingResult: Sendable {
        public var mappedAddress: TransportAddress
        public var software: String?
        public var roundTrip: Duration
        public var localAddress: SocketAddress?
        public var serverAddress: SocketAddress
    }

    /// Sends a Binding request to `url` and waits for the answer, retransmitting over UDP as RFC 8489 asks.
    public static func binding(
        _ url: STUNServerURL, timeout: Duration = .seconds(5), trust: TLSTrust = .systemDefault,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> BindingResult {
        guard let server = url.resolve() else { throw STUNClientError.resolutionFailed(url.host) }
        let transaction = BindingTransaction(reliable: url.transport != .udp)
        let promise = group.next().makePromise(of: BindingTransaction.Result.self)
        let channel: any Channel
        switch url.transport {
        case .udp:
            channel = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            DatagramTransactionHandler(transaction: transaction, server: server, promise: promise))
                    }
                }
                .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        case .tcp, .tls:
            let sslContext = url.transport == .tls ? try makeClientTLSContext(trust) : nil
            let serverName = url.tlsServerName
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(Int64(timeout.components.seconds) + 1))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addSTUNStreamHandlers(
                            tls: sslContext, serverHostname: serverName,
                            StreamTransactionHandler(transaction: transaction, promise: promise))
                    }
                }
                .connect(to: server).get()
        }
        let started = ContinuousClock.now
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(STUNClientError.timedOut(timeout))
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        let result = try await promise.futureResult.get()
        let roundTrip = ContinuousClock.now - started
        switch result {
        case .success(let mapped, let software):
            return BindingResult(
                mappedAddress: mapped, software: software, roundTrip: roundTrip, localAddress: channel.localAddress,
                serverAddress: server)
        case .errorResponse(let error):
            throw STUNClientError.errorResponse(error)
        }
    }

    /// A client TLS context trusting what `trust` says.
    public static func makeClientTLSContext(_ trust: TLSTrust) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch trust {
        case .systemDefault:
            break
        case .certificateFile(let path):
            configuration.trustRoots = .file(path)
        case .insecureNoVerification:
            configuration.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Sends the request over UDP, retransmits on RFC 8489's schedule and completes on the matching response.
final class DatagramTransactionHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private var transaction: BindingTransaction
    private let server: SocketAddress
    private let promise: EventLoopPromise<BindingTransaction.Result>
    private var retransmission: Scheduled<Void>?

    init(transaction: BindingTransaction, server: SocketAddress, promise: EventLoopPromise<BindingTransaction.Result>) {
        self.transaction = transaction
        self.server = server
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
        context.fireChannelActive()
    }

    private func send(context: ChannelHandlerContext) {
        guard let wait = transaction.recordSend() else { return }
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: server, data: transaction.request)), promise: nil)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        retransmission = context.eventLoop.scheduleTask(in: TimeAmount(wait)) {
            let (handler, context) = loopBound.value
            handler.send(context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server, let result = transaction.handle(response: envelope.data) else { return }
        retransmission?.cancel()
        promise.succeed(result)
    }

    func channelInactive(context: ChannelHandlerContext) {
        retransmission?.cancel()
        promise.fail(STUNClientError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Sends the request once over TCP or TLS and completes on the matching response.
final class StreamTransactionHandler: ChannelInboundHandler {
    typealias InboundIn = STUNStreamFrame
    typealias OutboundOut = ByteBuffer

    private let transaction: BindingTransaction
    private let promise: EventLoopPromise<BindingTransaction.Result>

    init(transaction: BindingTransaction, promise: EventLoopPromise<BindingTransaction.Result>) {
        self.transaction = transaction
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(transaction.request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .stun(let bytes) = unwrapInboundIn(data), let result = transaction.handle(response: bytes) else {
            return
        }
        promise.succeed(result)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(STUNClientError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
