import Atomics
import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import STUN

/// Drives Binding requests at a STUN server as fast as it answers: a fixed number of requests in flight,
/// spread over several UDP sockets (so SO_REUSEPORT servers spread them over their cores), each answered
/// request immediately replaced by the next. Loopback targets only in tests and benchmarks.
public struct STUNLoadGenerator: Sendable {
    public var target: SocketAddress
    public var duration: Duration
    public var inflight: Int
    public var sockets: Int
    /// A request unanswered for this long counts as lost and its slot sends a new one.
    public var timeout: Duration
    /// Sends each batch of requests as one UDP GSO write and reads coalesced (GRO) responses, so the load
    /// tool spends less CPU per packet than the server it measures. On by default where Linux supports it.
    public var segmentationOffload: Bool

    public init(
        target: SocketAddress, duration: Duration, inflight: Int, sockets: Int = 8, timeout: Duration = .seconds(1),
        segmentationOffload: Bool = System.supportsUDPSegmentationOffload && System.supportsUDPReceiveOffload
    ) {
        self.target = target
        self.duration = duration
        self.inflight = max(1, inflight)
        self.sockets = max(1, min(sockets, inflight))
        self.timeout = timeout
        self.segmentationOffload = segmentationOffload
    }

    /// Runs the load; `progress` is called about once a second with the responses so far.
    public func run(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        progress: @Sendable (_ elapsed: Duration, _ responses: Int) -> Void = { _, _ in }
    ) async throws -> LoadReport {
        var channels: [any Channel] = []
        var states: [LoadSocketState] = []
        for index in 0..<sockets {
            let slots = inflight / sockets + (index < inflight % sockets ? 1 : 0)
            let state = LoadSocketState(socketIndex: index, slots: slots)
            let target = self.target
            let timeout = self.timeout
            let offload = segmentationOffload
            var bootstrap = DatagramBootstrap(group: group)
                .channelOption(.datagramVectorReadMessageCount, value: 32)
                .channelOption(
                    .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 65536 / (offload ? 1 : 32))
                )
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            LoadSocketHandler(
                                state: state, target: target, timeout: timeout, segmentationOffload: offload))
                    }
                }
            if offload {
                bootstrap = bootstrap.channelOption(.datagramReceiveOffload, value: true)
                    .channelOption(.datagramReceiveSegmentSize, value: true)
            }
            let channel = try await bootstrap.bind(host: target.protocol == .inet6 ? "::1" : "127.0.0.1", port: 0).get()
            channels.append(channel)
            states.append(state)
        }
        let start = ContinuousClock.now
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(LoadSocketHandler.Start()) }
        var elapsed: Duration = .zero
        while elapsed < duration {
            try await Task.sleep(for: min(.seconds(1), duration - elapsed))
            elapsed = ContinuousClock.now - start
            progress(elapsed, states.reduce(0) { $0 + $1.responses.load(ordering: .relaxed) })
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(LoadSocketHandler.Stop()) }
        let measured = ContinuousClock.now - start
        try await Task.sleep(for: timeout)
        var report = LoadReport()
        for (channel, state) in zip(channels, states) {
            let partial = try await channel.eventLoop.submit { state.finish() }.get()
            report.merge(partial)
            try? await channel.close()
        }
        report.duration = measured
        return report
    }
}

/// One socket's slots and tallies. Touched only on its channel's event loop, except the response counter.
final class LoadSocketState: @unchecked Sendable {
    struct Slot {
        var generation: UInt32 = 0
        var sentAt: NIODeadline = .distantPast
        var waiting = false
    }

    let socketIndex: UInt64
    var slots: [Slot]
    var report = LoadReport()
    var stopped = false
    let responses = ManagedAtomic<Int>(0)

    init(socketIndex: Int, slots: Int) {
        self.socketIndex = UInt64(socketIndex)
        self.slots = Array(repeating: Slot(), count: max(1, slots))
    }

    /// Transaction IDs name socket, slot and generation, so a response finds its slot without a lookup.
    func transactionID(slot: Int) -> TransactionID {
        TransactionID(high: 0x504C_0000_0000_0000 | socketIndex << 32 | UInt64(slot), low: slots[slot].generation)
    }

    func finish() -> LoadReport {
        var result = report
        result.lost += slots.filter(\.waiting).count
        return result
    }
}

final class LoadSocketHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Start {}
    struct Stop {}

    private let state: LoadSocketState
    private let target: SocketAddress
    private let timeout: TimeAmount
    private let template: ByteBuffer
    private let segmentationOffload: Bool
    /// Requests waiting for the next flush, back to back (all are 20 bytes).
    private var batch = ByteBuffer()
    private var sweep: RepeatedTask?

    /// Linux accepts up to 64 segments in one GSO send.
    private static let maxSegments = 64

    init(state: LoadSocketState, target: SocketAddress, timeout: Duration, segmentationOffload: Bool) {
        self.state = state
        self.target = target
        self.timeout = TimeAmount(timeout)
        self.segmentationOffload = segmentationOffload
        template = STUNMessage(type: .bindingRequest, transactionID: TransactionID(high: 0, low: 0)).encoded()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Start {
            for slot in state.slots.indices { send(slot: slot, context: context) }
            flush(context: context)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) {
                _ in
                let (handler, context) = loopBound.value
                handler.expire(context: context)
            }
        } else if event is Stop {
            state.stopped = true
            sweep?.cancel()
        }
    }

    /// Queues a fresh request for `slot`; ``flush(context:)`` sends the queue.
    private func send(slot: Int, context: ChannelHandlerContext) {
        let id = state.transactionID(slot: slot)
        if batch.capacity == 0 {
            batch = context.channel.allocator.buffer(capacity: Self.maxSegments * template.readableBytes)
        }
        var request = template
        batch.writeBuffer(&request)
        batch.setInteger(id.high, at: batch.writerIndex - 12)
        batch.setInteger(id.low, at: batch.writerIndex - 4)
        state.slots[slot].sentAt = .now()
        state.slots[slot].waiting = true
        state.report.sent += 1
    }

    /// Writes the queued requests: GSO chunks of up to 64 when enabled, else one datagram each.
    private func flush(context: ChannelHandlerContext) {
        guard batch.readableBytes > 0 else { return }
        let size = template.readableBytes
        let chunk = segmentationOffload ? Self.maxSegments * size : size
        while batch.readableBytes > 0 {
            let bytes = batch.readSlice(length: min(chunk, batch.readableBytes))!
            let metadata =
                bytes.readableBytes > size
                ? AddressedEnvelope<ByteBuffer>.Metadata(
                    ecnState: .transportNotCapable, packetInfo: nil, segmentSize: size)
                : nil
            context.write(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: target, data: bytes, metadata: metadata)), promise: nil
            )
        }
        batch = ByteBuffer()
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let now = NIODeadline.now()
        guard let segment = envelope.metadata?.segmentSize, segment > 0, envelope.data.readableBytes > segment else {
            receive(envelope.data, at: now, context: context)
            return
        }
        var coalesced = envelope.data
        while coalesced.readableBytes > 0 {
            receive(coalesced.readSlice(length: min(segment, coalesced.readableBytes))!, at: now, context: context)
        }
    }

    private func receive(_ datagram: ByteBuffer, at now: NIODeadline, context: ChannelHandlerContext) {
        guard let view = try? STUNMessageView(datagram: datagram), view.type == .bindingSuccess,
            view.transactionID.high >> 32 == 0x504C_0000 | state.socketIndex
        else {
            state.report.invalid += 1
            return
        }
        let slot = Int(truncatingIfNeeded: view.transactionID.high & 0xFFFF_FFFF)
        guard slot < state.slots.count, state.slots[slot].waiting,
            state.slots[slot].generation == view.transactionID.low
        else {
            state.report.invalid += 1
            return
        }
        let micros = (now - state.slots[slot].sentAt).nanoseconds / 1000
        state.report.latency.record(UInt64(max(0, micros)))
        state.report.received += 1
        state.responses.wrappingIncrement(ordering: .relaxed)
        state.slots[slot].waiting = false
        state.slots[slot].generation &+= 1
        if !state.stopped { send(slot: slot, context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
    }

    /// Counts requests older than the timeout as lost and gives their slots a fresh request.
    private func expire(context: ChannelHandlerContext) {
        let cutoff = NIODeadline.now() - timeout
        for slot in state.slots.indices where state.slots[slot].waiting && state.slots[slot].sentAt < cutoff {
            state.report.lost += 1
            state.slots[slot].waiting = false
            state.slots[slot].generation &+= 1
            if !state.stopped { send(slot: slot, context: context) }
        }
        flush(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
