import Atomics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import STUN
import TURN
import TURNClient

/// Drives data through a TURN relay: N allocations over UDP, TCP or TLS, each with a channel (or a
/// permission, for Send/Data indications) toward a UDP echo peer the tool runs itself. Each packet goes
/// client → relay → peer → relay → client, and its round trip is measured. Flat out (a window of packets
/// in flight per allocation, each echo replaced by the next packet) or at a fixed rate per allocation.
/// Loopback targets only in tests and benchmarks.
public struct TURNLoadGenerator: Sendable {
    public enum Transport: String, Sendable, CaseIterable {
        case udp, tcp, tls
    }

    /// How the client and the echo peer hand their packets to the kernel. A relay's cost depends on it, so
    /// comparisons name it.
    public enum SendMode: String, Sendable, CaseIterable {
        /// One system call per datagram (one write per frame over TCP and TLS), sent as soon as it is made:
        /// what browsers and phones (libwebrtc) do.
        case perDatagram = "per-datagram"
        /// A read burst's packets in one sendmmsg (one write over TCP and TLS), without segmentation offload.
        case sendmmsg
        /// Runs of one size as one UDP GSO write where Linux has it: the tool's cheapest, no real client's.
        case gso
    }

    public var target: SocketAddress
    public var transport: Transport
    public var dataPath: TURNDataPath
    public var sendMode: SendMode
    public var allocations: Int
    /// Application bytes per packet (at least 16: slot, generation, send time).
    public var payloadSize: Int
    /// Packets per second per allocation; nil runs flat out with `window` packets in flight each; 0 holds
    /// the allocations idle for the duration (to measure a relay's memory per allocation).
    public var rate: Int?
    public var window: Int
    public var duration: Duration
    public var username: String
    public var password: String
    public var trust: TLSTrust
    /// A packet unanswered for this long counts as lost.
    public var timeout: Duration

    public init(
        target: SocketAddress, transport: Transport = .udp, dataPath: TURNDataPath = .channel,
        sendMode: SendMode = .perDatagram, allocations: Int = 16,
        payloadSize: Int = 100, rate: Int? = nil, window: Int = 8, duration: Duration = .seconds(10),
        username: String, password: String, trust: TLSTrust = .insecureNoVerification, timeout: Duration = .seconds(1)
    ) {
        self.target = target
        self.transport = transport
        self.dataPath = dataPath
        self.sendMode = sendMode
        self.allocations = max(1, allocations)
        self.payloadSize = max(payloadSize, TURNLoadSession.minimumPayload)
        self.rate = rate
        self.window = max(1, window)
        self.duration = duration
        self.username = username
        self.password = password
        self.trust = trust
        self.timeout = timeout
    }

    /// Allocates set up concurrently at most.
    static let setupBatch = 256

    /// Why a run could not start.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Sets up every allocation, runs the data phase, and reports; `ready` is called once every allocation
    /// is ready, `progress` about once a second with the echoes so far.
    public func run(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        ready: @Sendable (_ setup: Duration) -> Void = { _ in },
        progress: @Sendable (_ elapsed: Duration, _ echoes: Int) -> Void = { _, _ in }
    ) async throws -> TURNLoadReport {
        let loopback = target.protocol == .inet6 ? "::1" : "127.0.0.1"
        let sendMode = self.sendMode
        let echo = try await DatagramBootstrap(group: group)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(sendMode: sendMode))
                }
            }
            .bind(host: loopback, port: 0).get()
        defer { echo.close(promise: nil) }
        guard let echoAddress = echo.localAddress.flatMap(TransportAddress.init) else {
            throw SetupError(description: "echo peer has no address")
        }
        let sslContext = transport == .tls ? try STUNClient.makeClientTLSContext(trust) : nil
        let slots = rate.map { max(window, $0 * 2) } ?? window

        // Setup in batches (so a burst of Allocates never overflows a socket buffer); the time until the
        // last allocation is ready gives allocations/s.
        let setupStart = ContinuousClock.now
        var clients: [(channel: any Channel, state: TURNLoadClient)] = []
        defer { for (channel, _) in clients { channel.close(promise: nil) } }
        for batchStart in stride(from: 0, to: allocations, by: Self.setupBatch) {
            var batch: [TURNLoadClient] = []
            for _ in batchStart..<min(allocations, batchStart + Self.setupBatch) {
                let loop = group.next()
                let session = TURNLoadSession(
                    auth: TURNClientAuthentication(username: username, password: password), peer: echoAddress,
                    dataPath: dataPath, stream: transport != .udp, payloadSize: payloadSize, slots: slots)
                let state = TURNLoadClient(
                    session: session, promise: loop.makePromise(), target: target, sendMode: sendMode)
                let channel = try await connect(state, on: loop, sslContext: sslContext, bindHost: loopback)
                clients.append((channel, state))
                batch.append(state)
            }
            let deadline = group.next().scheduleTask(in: .seconds(10)) {
                for state in batch { state.ready.fail(SetupError(description: "allocation timed out")) }
            }
            try await EventLoopFuture.andAllSucceed(batch.map(\.ready.futureResult), on: group.next()).get()
            deadline.cancel()
        }
        let setup = ContinuousClock.now - setupStart
        ready(setup)

        let start = ContinuousClock.now
        let pacing = rate.map { TimeAmount.nanoseconds(Int64(1_000_000_000 / max(1, $0))) }
        for (channel, _) in clients where rate != 0 {
            channel.pipeline.fireUserInboundEventTriggered(TURNLoadClient.Start(interval: pacing, timeout: timeout))
        }
        var elapsed: Duration = .zero
        while elapsed < duration {
            try await Task.sleep(for: min(.seconds(1), duration - elapsed))
            elapsed = ContinuousClock.now - start
            progress(elapsed, clients.reduce(0) { $0 + $1.state.echoes.load(ordering: .relaxed) })
        }
        for (channel, _) in clients { channel.pipeline.fireUserInboundEventTriggered(TURNLoadClient.Stop()) }
        let measured = ContinuousClock.now - start
        try await Task.sleep(for: timeout)
        var report = TURNLoadReport(allocations: allocations, setup: setup)
        for (channel, state) in clients {
            report.data.merge(try await channel.eventLoop.submit { state.session.finish() }.get())
        }
        // Every allocation is deleted (Refresh with LIFETIME 0) rather than left to expire on the relay, and
        // the answer awaited (asked again after a lost one): a later run's socket may get the same port, and
        // an allocation left on that 5-tuple would refuse its Allocate (437).
        for _ in 0..<3 {
            var waiting: [EventLoopFuture<Bool>] = []
            for (channel, state) in clients {
                waiting.append(
                    channel.eventLoop.submit {
                        guard state.session.phase != .released else { return false }
                        channel.pipeline.fireUserInboundEventTriggered(TURNLoadClient.Release())
                        return true
                    })
            }
            guard try await EventLoopFuture.whenAllSucceed(waiting, on: group.next()).get().contains(true) else {
                break
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        report.data.duration = measured
        return report
    }

    private func connect(
        _ state: TURNLoadClient, on loop: any EventLoop, sslContext: NIOSSLContext?, bindHost: String
    ) async throws -> any Channel {
        switch transport {
        case .udp:
            return try await DatagramBootstrap(group: loop)
                .channelOption(.datagramVectorReadMessageCount, value: 16)
                .channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 2048))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TURNLoadDatagramHandler(client: state))
                    }
                }
                .bind(host: bindHost, port: 0).get()
        case .tcp, .tls:
            return try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addSTUNStreamHandlers(
                            tls: sslContext, serverHostname: nil, TURNLoadStreamHandler(client: state))
                    }
                }
                .connect(to: target).get()
        }
    }
}

/// Allocation setup and data-phase figures of a TURN load run.
public struct TURNLoadReport: Sendable {
    public var allocations: Int
    /// From the first Allocate to the last allocation ready for data.
    public var setup: Duration
    public var data = LoadReport()

    public var allocationsPerSecond: Double {
        let seconds = setup / .seconds(1)
        return seconds > 0 ? Double(allocations) / seconds : 0
    }

    /// The closing table.
    public func table(title: String) -> String {
        var text = data.table(title: title, sentLabel: "packets sent", receivedLabel: "echoes", rateLabel: "echoes/s")
        text += "  allocations       \(allocations) in \(format2(setup / .seconds(1))) s"
        text += " (\(Int(allocationsPerSecond.rounded()))/s)\n"
        return text
    }
}

/// One load allocation's state and tallies, shared by its channel handler and the driver (which reads
/// it on the channel's event loop only, except the echo counter).
final class TURNLoadClient: @unchecked Sendable {
    struct Start {
        var interval: TimeAmount?
        var timeout: Duration
    }

    struct Stop {}
    struct Release {}

    var session: TURNLoadSession
    let ready: EventLoopPromise<Void>
    let target: SocketAddress
    let sendMode: TURNLoadGenerator.SendMode
    let echoes = ManagedAtomic<Int>(0)
    var running = false
    var nextSlot = 0
    var tasks: [RepeatedTask] = []

    init(
        session: TURNLoadSession, promise: EventLoopPromise<Void>, target: SocketAddress,
        sendMode: TURNLoadGenerator.SendMode
    ) {
        self.session = session
        self.ready = promise
        self.target = target
        self.sendMode = sendMode
    }

    /// Handles a message from the relay; returns bytes to send (setup requests or the next packet).
    func received(_ bytes: ByteBuffer, now: NIODeadline, out: inout ByteBuffer, pacing: Bool) {
        let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) ?? 0
        if session.phase != .ready {
            guard first >> 6 == 0 else { return }
            if var next = session.control(bytes) { out.writeBuffer(&next) }
            switch session.phase {
            case .ready: ready.succeed()
            case .failed(let reason): ready.fail(TURNLoadGenerator.SetupError(description: reason))
            default: break
            }
            return
        }
        // Responses now (to the closing Refresh) are not echoes.
        if first >> 6 == 0, let type = bytes.getInteger(at: bytes.readerIndex, as: UInt16.self), type & 0x0100 != 0 {
            _ = session.control(bytes)
            return
        }
        guard let slot = session.echo(bytes, now: now) else { return }
        echoes.wrappingIncrement(ordering: .relaxed)
        if running && !pacing { session.packet(slot: slot, now: now, into: &out) }
    }

    /// The next packet in rate mode, in the next slot round robin.
    func paced(now: NIODeadline, out: inout ByteBuffer) {
        session.packet(slot: nextSlot, now: now, into: &out)
        nextSlot = (nextSlot + 1) % session.slots.count
    }
}

/// UDP transport of a load allocation.
final class TURNLoadDatagramHandler: ChannelInboundHandler, TURNLoadTransport {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let client: TURNLoadClient
    var pacing = false
    private var out = ByteBuffer()
    private var pendingLengths: [Int] = []

    init(client: TURNLoadClient) { self.client = client }

    func channelActive(context: ChannelHandlerContext) {
        var first = client.session.start()
        context.writeAndFlush(
            wrapOutboundOut(
                AddressedEnvelope(remoteAddress: client.target, data: first.readSlice(length: first.readableBytes)!)),
            promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let before = out.writerIndex
        client.received(unwrapInboundIn(data).data, now: .now(), out: &out, pacing: pacing)
        if out.writerIndex > before { pendingLengths.append(out.writerIndex - before) }
        if client.sendMode == .perDatagram { flush(context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) { flush(context: context) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        handleLoadEvent(event, context: context)
    }

    func emit(context: ChannelHandlerContext, _ write: (inout ByteBuffer) -> Void) {
        let before = out.writerIndex
        write(&out)
        if out.writerIndex > before { pendingLengths.append(out.writerIndex - before) }
        flush(context: context)
    }

    /// Writes the pending datagrams with one flush: one sendmsg for a single datagram, one sendmmsg for
    /// several, and with `gso` runs of one size as one UDP GSO write where Linux has it.
    private func flush(context: ChannelHandlerContext) {
        guard !pendingLengths.isEmpty else { return }
        let segmenting = client.sendMode == .gso
        var index = pendingLengths.startIndex
        while index < pendingLengths.endIndex {
            let size = pendingLengths[index]
            let end = GSORuns.end(
                from: index, to: pendingLengths.endIndex, segmenting: segmenting, size: { pendingLengths[$0] })
            let datagram = out.readSlice(length: size * (end - index))!
            context.write(
                wrapOutboundOut(
                    AddressedEnvelope(
                        remoteAddress: client.target, data: datagram, metadata: GSORuns.metadata(size, end - index))),
                promise: nil)
            index = end
        }
        pendingLengths.removeAll(keepingCapacity: true)
        out = context.channel.allocator.buffer(capacity: 4096)
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// TCP or TLS transport of a load allocation.
final class TURNLoadStreamHandler: ChannelInboundHandler, TURNLoadTransport {
    typealias InboundIn = STUNStreamFrame
    typealias OutboundOut = ByteBuffer

    let client: TURNLoadClient
    var pacing = false
    private var out = ByteBuffer()

    init(client: TURNLoadClient) { self.client = client }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(client.session.start()), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .stun(let bytes), .channelData(let bytes):
            client.received(bytes, now: .now(), out: &out, pacing: pacing)
        }
        if client.sendMode == .perDatagram { flush(context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) { flush(context: context) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        handleLoadEvent(event, context: context)
    }

    func emit(context: ChannelHandlerContext, _ write: (inout ByteBuffer) -> Void) {
        write(&out)
        flush(context: context)
    }

    private func flush(context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        out = context.channel.allocator.buffer(capacity: 4096)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client.ready.fail(error)
        context.close(promise: nil)
    }
}

/// What the datagram and stream handlers of a load allocation share: the Start, Stop and Release events.
protocol TURNLoadTransport: AnyObject {
    var client: TURNLoadClient { get }
    var pacing: Bool { get set }
    /// Appends one message with `write` and sends it.
    func emit(context: ChannelHandlerContext, _ write: (inout ByteBuffer) -> Void)
}

extension TURNLoadTransport {
    /// Start: the first window (or the pacing timer) and the loss sweep. Stop: no more packets.
    /// Release: Refresh with LIFETIME 0.
    func handleLoadEvent(_ event: Any, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        if let start = event as? TURNLoadClient.Start {
            client.running = true
            pacing = start.interval != nil
            if let interval = start.interval {
                client.tasks.append(
                    context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
                        let (handler, context) = bound.value
                        handler.emit(context: context) { handler.client.paced(now: .now(), out: &$0) }
                    })
            } else {
                for slot in client.session.slots.indices {
                    emit(context: context) { client.session.packet(slot: slot, now: .now(), into: &$0) }
                }
            }
            let timeout = start.timeout
            client.tasks.append(
                context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { _ in
                    let (handler, context) = bound.value
                    let freed = handler.client.session.expire(before: .now() - TimeAmount(timeout))
                    guard handler.client.running, !handler.pacing else { return }
                    for slot in freed {
                        handler.emit(context: context) {
                            handler.client.session.packet(slot: slot, now: .now(), into: &$0)
                        }
                    }
                })
        } else if event is TURNLoadClient.Stop {
            client.running = false
            for task in client.tasks { task.cancel() }
        } else if event is TURNLoadClient.Release {
            emit(context: context) { $0.writeImmutableBuffer(client.session.release()) }
        }
    }
}

/// Runs of same-size datagrams to one address as one UDP GSO write.
enum GSORuns {
    static let enabled = System.supportsUDPSegmentationOffload
    private static let rule = DatagramRuns()

    /// The end of the run of equal sizes (and meeting `joins`) from `start`; just past it without GSO or
    /// when not `segmenting`.
    static func end(
        from start: Int, to limit: Int, segmenting: Bool, size: (Int) -> Int, joins: (Int) -> Bool = { _ in true }
    ) -> Int {
        guard enabled, segmenting else { return start + 1 }
        return rule.end(from: start, to: limit, size: size) { size($0) == size(start) && joins($0) }
    }

    /// The metadata of a write of `count` datagrams of `size` bytes: a segment size when there are several.
    static func metadata(_ size: Int, _ count: Int) -> AddressedEnvelope<ByteBuffer>.Metadata? {
        count > 1 ? .init(ecnState: .transportNotCapable, packetInfo: nil, segmentSize: size) : nil
    }
}

/// The peer: sends every datagram back where it came from (the relayed address), in the run's send mode:
/// at once, one sendmsg each; or a read burst's replies in one sendmmsg; or, with `gso`, the datagrams of
/// one burst from one address with one size as one GSO write.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let sendMode: TURNLoadGenerator.SendMode
    /// The datagrams of the current read burst, answered when it ends.
    private var received: [AddressedEnvelope<ByteBuffer>] = []

    init(sendMode: TURNLoadGenerator.SendMode) {
        self.sendMode = sendMode
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if sendMode == .perDatagram {
            context.writeAndFlush(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: envelope.data)),
                promise: nil)
        } else {
            received.append(envelope)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !received.isEmpty else { return }
        var index = received.startIndex
        while index < received.endIndex {
            let address = received[index].remoteAddress
            let size = received[index].data.readableBytes
            let end = GSORuns.end(
                from: index, to: received.endIndex, segmenting: sendMode == .gso,
                size: { received[$0].data.readableBytes },
                joins: { received[$0].remoteAddress == address })
            var data = received[index].data
            if end - index > 1 {
                data = context.channel.allocator.buffer(capacity: size * (end - index))
                for envelope in received[index..<end] { data.writeImmutableBuffer(envelope.data) }
            }
            context.write(
                wrapOutboundOut(
                    AddressedEnvelope(remoteAddress: address, data: data, metadata: GSORuns.metadata(size, end - index))
                ), promise: nil)
            index = end
        }
        received.removeAll(keepingCapacity: true)
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
