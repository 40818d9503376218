import Atomics
import CDatagramSockets
import Logging
import NIOConcurrencyHelpers
import NIOCore
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// UDP without an event loop in between: one thread with its own epoll that reads its sockets with
/// recvmmsg into memory allocated once, answers Binding, hands TURN traffic to its ``DatagramTURN`` and
/// sends each burst's datagrams with one sendmmsg per socket. Each plane owns one SO_REUSEPORT listener
/// socket per UDP address and the relay sockets of its UDP clients' allocations, so nothing on the packet
/// path is shared or locked; the kernel spreads clients over planes by 5-tuple.
///
/// Other threads reach a plane only through ``submit(_:)``: the job runs on the plane's thread between
/// bursts. Before ``start()`` and after ``stop()`` a job runs at once on the caller's thread, under the
/// inbox lock, so inline jobs, listener setup and the closing never overlap.
final class DatagramPlane: @unchecked Sendable {
    /// A UDP listener socket of this plane.
    final class Listener {
        let fd: CInt
        let local: TransportAddress
        let counters = TrafficCounters(transport: .udp)

        init(fd: CInt, local: TransportAddress) {
            self.fd = fd
            self.local = local
        }
    }

    enum Endpoint {
        case listener(Listener)
        case relay(DatagramTURN.Relay)
        case wakeup
    }

    /// recvmmsg calls per listener per wake-up while each fills the batch (fairness with other sockets).
    static let listenerReadsPerWake = 4
    let logger: Logger
    let outbox: DatagramOutbox
    private let receiver: DatagramReceiver
    private let responder: BindingResponder
    private let poll: CInt
    private let wakeup: CInt
    private var endpoints: [CInt: Endpoint] = [:]
    private(set) var listeners: [Listener] = []
    /// The TURN relay of this plane's UDP clients; nil serves Binding only.
    var turn: DatagramTURN?
    /// Descriptors to close once the burst's datagrams are sent, so none is reused while queued for, and
    /// the relay port each frees (given back to its pool only once closed).
    private var closing: [(fd: CInt, port: (pool: RelayPortPool, number: UInt16)?)] = []
    private var running = true
    private var closed = false

    private struct Inbox {
        var jobs: [@Sendable (DatagramPlane) -> Void] = []
        /// True until the thread runs and again once it has ended: jobs then run on the caller's thread.
        /// While false, the wake-up descriptor is open (it is signalled under this lock).
        var inline = true
        var exited: CheckedContinuation<Void, Never>?
    }
    private let inbox = NIOLockedValueBox(Inbox())

    /// A plane with its epoll and wake-up descriptors; throws when the system has no room for them.
    init(
        responder: BindingResponder, vectorReadCount: Int, segmentation: Bool, logger: Logger
    ) throws {
        let poll = partyline_poll_create()
        guard poll >= 0 else { throw IOError(errnoCode: -poll, reason: "epoll_create1") }
        let wakeup = partyline_wakeup_create()
        guard wakeup >= 0 else {
            close(poll)
            throw IOError(errnoCode: -wakeup, reason: "eventfd")
        }
        self.poll = poll
        self.wakeup = wakeup
        self.responder = responder
        self.logger = logger
        receiver = DatagramReceiver(capacity: vectorReadCount)
        outbox = DatagramOutbox(segmentation: segmentation)
        let error = watch(wakeup, as: .wakeup)
        guard error == 0 else {
            close(wakeup)
            close(poll)
            throw IOError(errnoCode: error, reason: "epoll_ctl")
        }
    }

    /// Whether this platform has the system calls a plane makes (Linux).
    static var isSupported: Bool { partyline_datagram_sockets_supported() != 0 }

    // MARK: Life cycle

    /// Starts the plane's thread.
    func start() {
        inbox.withLockedValue { $0.inline = false }
        let plane = self
        var thread = pthread_t()
        let body = Unmanaged.passRetained(ThreadBody { plane.run() }).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, body)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }

    /// Stops the thread and closes every socket of the plane.
    func stop() async {
        await withCheckedContinuation { (exited: CheckedContinuation<Void, Never>) in
            inbox.withLockedValue { inbox in
                if inbox.inline {
                    closeEverything()
                    exited.resume()
                } else {
                    inbox.exited = exited
                    inbox.jobs.append { $0.running = false }
                    _ = partyline_wakeup_signal(wakeup)
                }
            }
        }
    }

    /// Runs `body` on the plane's thread between bursts and returns its result.
    func submit<T: Sendable>(_ body: @escaping @Sendable (DatagramPlane) -> T) async -> T {
        await withCheckedContinuation { continuation in
            inbox.withLockedValue { inbox in
                if inbox.inline {
                    continuation.resume(returning: body(self))
                } else {
                    inbox.jobs.append { continuation.resume(returning: body($0)) }
                    _ = partyline_wakeup_signal(wakeup)
                }
            }
        }
    }

    // MARK: Sockets

    /// Adds a bound UDP listener socket before ``start()``; the plane owns it from now on (and closes it
    /// when the epoll refuses it).
    func addListener(fd: CInt, local: TransportAddress) throws -> Listener {
        try inbox.withLockedValue { _ in
            let listener = Listener(fd: fd, local: local)
            let error = watch(fd, as: .listener(listener))
            guard error == 0 else {
                close(fd)
                throw IOError(errnoCode: error, reason: "epoll_ctl")
            }
            listeners.append(listener)
            turn?.listenerFDs[local] = fd
            return listener
        }
    }

    /// Reads `fd` from now on; 0, or the errno of an epoll that refused it (nothing is then watched).
    func watch(_ fd: CInt, as endpoint: Endpoint) -> CInt {
        let result = partyline_poll_add(poll, fd, UInt64(UInt32(bitPattern: fd)))
        guard result >= 0 else { return -result }
        endpoints[fd] = endpoint
        return 0
    }

    /// Stops reading `fd` now and closes it after the burst's datagrams have left; then gives `port` back.
    func retire(_ fd: CInt, freeing port: (pool: RelayPortPool, number: UInt16)? = nil) {
        endpoints[fd] = nil
        _ = partyline_poll_remove(poll, fd)
        outbox.forget(fd)
        closing.append((fd, port))
    }

    // MARK: The loop

    private func run() {
        var tags = [UInt64](repeating: 0, count: 64)
        var nextSweep = ContinuousClock.now + .seconds(1)
        while running {
            let timeout = Self.milliseconds(until: nextSweep)
            let ready = tags.withUnsafeMutableBufferPointer {
                Int(partyline_poll_wait(poll, $0.baseAddress, CInt($0.count), CInt(timeout)))
            }
            let now = ContinuousClock.now
            for index in 0..<max(0, ready) {
                let fd = CInt(truncatingIfNeeded: UInt32(truncatingIfNeeded: tags[index]))
                switch endpoints[fd] {
                case .listener(let listener): read(listener, now: now)
                case .relay(let relay): read(relay, now: now)
                case .wakeup: runJobs()
                case nil: break
                }
            }
            if now >= nextSweep {
                turn?.expire(now: now)
                nextSweep = now + .seconds(1)
            }
            flush()
        }
        // Under the lock: jobs queued since the last wake-up run first, then the sockets close, and no
        // thread signals the wake-up descriptor once it is closed.
        inbox.withLockedValue { inbox in
            inbox.inline = true
            for job in inbox.jobs { job(self) }
            inbox.jobs = []
            closeEverything()
            inbox.exited?.resume()
            inbox.exited = nil
        }
    }

    /// Milliseconds from now until `deadline`, between 0 and 1,000.
    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int {
        let wait = (deadline - .now).components
        return max(0, min(1000, Int(wait.seconds) * 1000 + Int(wait.attoseconds / 1_000_000_000_000_000)))
    }

    private func runJobs() {
        partyline_wakeup_clear(wakeup)
        let jobs = inbox.withLockedValue { inbox in
            defer { inbox.jobs.removeAll() }
            return inbox.jobs
        }
        for job in jobs { job(self) }
    }

    private func read(_ listener: Listener, now: ContinuousClock.Instant) {
        for _ in 0..<Self.listenerReadsPerWake {
            let count = receiver.receive(from: listener.fd)
            guard count > 0 else { return }
            for index in 0..<count { handle(datagram: index, on: listener, now: now) }
            // Each batch is answered before the next read reuses the receive memory.
            flush()
            if count < receiver.capacity { return }
        }
    }

    private func handle(datagram index: Int, on listener: Listener, now: ContinuousClock.Instant) {
        guard let bytes = receiver.bytes(at: index), let source = receiver.source(at: index) else {
            listener.counters.malformed.wrappingIncrement(ordering: .relaxed)
            return
        }
        if let turn, let kind = TURNTraffic(bytes) {
            let fiveTuple = FiveTuple(client: source, server: listener.local, transport: .udp)
            switch kind {
            case .channelData:
                turn.channelData(bytes, from: fiveTuple, now: now)
            case .stun:
                do {
                    turn.handle(try STUNMessageView(datagram: bytes), from: fiveTuple, now: now)
                } catch {
                    listener.counters.record(.dropped(.malformed(error.code)))
                }
            }
            return
        }
        let start = outbox.bytes.writerIndex
        let outcome = responder.respond(to: bytes, from: source, into: &outbox.bytes)
        listener.counters.record(outcome)
        if case .dropped = outcome {
            outbox.bytes.moveWriterIndex(to: start)
            return
        }
        outbox.commit(fd: listener.fd, to: source, from: start)
    }

    private func read(_ relay: DatagramTURN.Relay, now: ContinuousClock.Instant) {
        guard let turn else { return }
        let count = receiver.receive(from: relay.fd)
        for index in 0..<max(0, count) {
            guard let bytes = receiver.bytes(at: index), let source = receiver.source(at: index) else {
                turn.counters.dropped.wrappingIncrement(ordering: .relaxed)
                continue
            }
            turn.peerData(bytes, from: source, relay: relay, now: now)
        }
        flush()
    }

    private func flush() {
        if !outbox.isEmpty {
            let report = outbox.flush()
            if let turn {
                if report.dropped > 0 {
                    turn.counters.dropped.wrappingIncrement(by: report.dropped, ordering: .relaxed)
                }
                if report.coalesced > 0 {
                    turn.counters.coalescedWrites.wrappingIncrement(by: report.coalesced, ordering: .relaxed)
                }
            }
            if report.segmentationRefused > 0 {
                logger.warning(
                    "UDP segmentation refused by the kernel; that socket now sends datagrams one by one",
                    metadata: ["sockets": "\(report.segmentationRefused)"])
            }
        }
        if !closing.isEmpty {
            for (fd, port) in closing {
                close(fd)
                if let port { port.pool.give(port.number) }
            }
            closing.removeAll(keepingCapacity: true)
        }
    }

    /// Closes the sockets of a plane that was never started.
    func closeUnstarted() { inbox.withLockedValue { _ in closeEverything() } }

    private func closeEverything() {
        guard !closed else { return }
        closed = true
        turn?.closeAll()
        flush()
        for listener in listeners { close(listener.fd) }
        listeners.removeAll()
        endpoints.removeAll()
        close(wakeup)
        close(poll)
    }
}

/// A thread's body, passed through pthread_create's context pointer.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
