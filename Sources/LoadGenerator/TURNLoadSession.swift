import Histogram
import NIOCore
import STUN
import TURN
import TURNClient

/// One load allocation as a plain value: the shared TURN client (``TURNAllocationClient``) sets up the
/// allocation toward the peer echo, and this adds numbered packets whose echoes come back through the
/// relay, with loss and latency. Bytes in, bytes out; the NIO handlers only move them.
struct TURNLoadSession {
    enum Phase: Equatable {
        case allocating, binding, ready, released
        case failed(String)
    }

    /// The data packets in flight: a packet names its slot and generation, so an echo finds its slot
    /// without a lookup and a stale echo is recognised.
    struct Slot {
        var generation: UInt32 = 0
        var sentAt: NIODeadline = .distantPast
        var waiting = false
    }

    /// Slot, generation and send time.
    static let minimumPayload = 16

    private(set) var phase = Phase.allocating
    var slots: [Slot]
    var report = LoadReport()
    private var client: TURNAllocationClient
    private let peer: TransportAddress
    private let padded: Bool
    private let payloadSize: Int

    init(
        auth: TURNClientAuthentication, peer: TransportAddress, dataPath: TURNDataPath, stream: Bool,
        payloadSize: Int, slots: Int
    ) {
        self.client = TURNAllocationClient(authentication: auth, dataPath: dataPath)
        self.peer = peer
        self.padded = stream
        self.payloadSize = max(payloadSize, Self.minimumPayload)
        self.slots = Array(repeating: Slot(), count: max(1, slots))
    }

    /// The address the relay allocated.
    var relayed: TransportAddress? { client.relayedAddress }

    /// The first request.
    mutating func start() -> ByteBuffer {
        client.allocate()
    }

    /// Refresh with LIFETIME 0: the relay deletes the allocation now rather than when it expires.
    mutating func release() -> ByteBuffer {
        client.release()
    }

    /// A STUN message from the relay during setup; returns the next request, if any.
    mutating func control(_ bytes: ByteBuffer) -> ByteBuffer? {
        switch client.handle(response: bytes) {
        case .retry(let request)?:
            return request
        case .allocated?:
            phase = .binding
            return client.bind(to: peer)
        case .bound?:
            phase = .ready
            return nil
        case .failed(let reason)?:
            phase = .failed(reason)
            return nil
        case .released?:
            phase = .released
            return nil
        case nil:
            return nil
        }
    }

    /// Appends a data packet for `slot` to `buffer` (one datagram or stream frame).
    mutating func packet(slot: Int, now: NIODeadline, into buffer: inout ByteBuffer) {
        if slots[slot].waiting { report.lost += 1 }
        slots[slot].generation &+= 1
        slots[slot].sentAt = now
        slots[slot].waiting = true
        report.sent += 1
        var payload = ByteBuffer()
        payload.reserveCapacity(payloadSize)
        payload.writeInteger(UInt32(slot))
        payload.writeInteger(slots[slot].generation)
        payload.writeInteger(now.uptimeNanoseconds)
        payload.writeRepeatingByte(0x50, count: payloadSize - Self.minimumPayload)
        client.wrap(payload, padded: padded, into: &buffer)
    }

    /// An echo from the relay; returns its slot when it answered the packet in flight there.
    mutating func echo(_ bytes: ByteBuffer, now: NIODeadline) -> Int? {
        let payload = client.unwrap(bytes)
        guard let payload, let slot = payload.getInteger(at: payload.readerIndex, as: UInt32.self).map(Int.init),
            let generation = payload.getInteger(at: payload.readerIndex + 4, as: UInt32.self),
            slot < slots.count, slots[slot].waiting, slots[slot].generation == generation
        else {
            report.invalid += 1
            return nil
        }
        slots[slot].waiting = false
        report.received += 1
        report.latency.record(UInt64(max(0, (now - slots[slot].sentAt).nanoseconds / 1000)))
        return slot
    }

    /// Slots whose packet is older than `cutoff`: counted lost and free again.
    mutating func expire(before cutoff: NIODeadline) -> [Int] {
        var freed: [Int] = []
        for slot in slots.indices where slots[slot].waiting && slots[slot].sentAt < cutoff {
            slots[slot].waiting = false
            report.lost += 1
            freed.append(slot)
        }
        return freed
    }

    /// The report with packets still in flight counted lost.
    func finish() -> LoadReport {
        var result = report
        result.lost += slots.filter(\.waiting).count
        return result
    }
}
