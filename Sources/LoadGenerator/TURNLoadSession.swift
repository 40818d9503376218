import Histogram
import NIOCore
import STUN
import TURN
import TURNClient

/// How relayed data travels between the load client and the relay.
public enum TURNLoadMode: String, Sendable, CaseIterable {
    /// ChannelBind, then ChannelData both ways.
    case channel
    /// CreatePermission, then Send indications out and Data indications back.
    case indication
}

/// One load allocation as a plain state machine: Allocate (answering the 401), then ChannelBind or
/// CreatePermission toward the peer echo, then numbered packets whose echoes come back through the relay.
/// Bytes in, bytes out; the NIO handlers only move them.
struct TURNLoadSession {
    enum Phase: Equatable {
        case allocating, binding, ready
        case failed(String)
    }

    /// The data packets in flight: a packet names its slot and generation, so an echo finds its slot
    /// without a lookup and a stale echo is recognised.
    struct Slot {
        var generation: UInt32 = 0
        var sentAt: NIODeadline = .distantPast
        var waiting = false
    }

    static let channel: UInt16 = 0x4000
    /// Slot, generation and send time.
    static let minimumPayload = 16

    private(set) var phase = Phase.allocating
    private(set) var relayed: TransportAddress?
    var slots: [Slot]
    var report = LoadReport()
    private var auth: TURNClientAuthentication
    private let peer: TransportAddress
    private let mode: TURNLoadMode
    private let padded: Bool
    private let payloadSize: Int
    private var transaction = TransactionID.random()
    private var lastRequest: (method: STUNMethod, attributes: [STUNAttribute]) = (.allocate, [])

    init(
        auth: TURNClientAuthentication, peer: TransportAddress, mode: TURNLoadMode, stream: Bool, payloadSize: Int,
        slots: Int
    ) {
        self.auth = auth
        self.peer = peer
        self.mode = mode
        self.padded = stream
        self.payloadSize = max(payloadSize, Self.minimumPayload)
        self.slots = Array(repeating: Slot(), count: max(1, slots))
    }

    /// The first request.
    mutating func start() -> ByteBuffer {
        request(.allocate, [.requestedTransport(17)])
    }

    /// Refresh with LIFETIME 0: the relay deletes the allocation now rather than when it expires.
    mutating func release() -> ByteBuffer {
        request(.refresh, [.lifetime(0)])
    }

    /// A STUN message from the relay during setup; returns the next request, if any.
    mutating func control(_ bytes: ByteBuffer) -> ByteBuffer? {
        guard let response = try? STUNMessage(datagram: bytes), response.transactionID == transaction else {
            return nil
        }
        if response.type.messageClass == .errorResponse {
            if auth.learn(from: response) { return request(lastRequest.method, lastRequest.attributes) }
            phase = .failed("\(response.type.method) refused: \(response.errorCode.map { "\($0.code)" } ?? "?")")
            return nil
        }
        switch phase {
        case .allocating:
            guard case .xorRelayedAddress(let address) = response.attribute(.xorRelayedAddress) else {
                phase = .failed("Allocate success without XOR-RELAYED-ADDRESS")
                return nil
            }
            relayed = address
            phase = .binding
            return mode == .channel
                ? request(.channelBind, [.channelNumber(Self.channel), .xorPeerAddress(peer)])
                : request(.createPermission, [.xorPeerAddress(peer)])
        case .binding:
            phase = .ready
            return nil
        case .ready, .failed:
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
        switch mode {
        case .channel:
            ChannelData(channel: Self.channel, data: payload).encode(into: &buffer, padded: padded)
        case .indication:
            STUNMessage(
                type: STUNMessageType(method: .send, messageClass: .indication),
                attributes: [.xorPeerAddress(peer), .data(payload)]
            ).encode(into: &buffer)
        }
    }

    /// An echo from the relay; returns its slot when it answered the packet in flight there.
    mutating func echo(_ bytes: ByteBuffer, now: NIODeadline) -> Int? {
        let payload: ByteBuffer?
        switch mode {
        case .channel:
            payload = (try? ChannelData(decoding: bytes))?.data
        case .indication:
            if case .data(let data)? = (try? STUNMessage(datagram: bytes))?.attribute(.data) {
                payload = data
            } else {
                payload = nil
            }
        }
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

    /// Sends `method` with a fresh transaction, remembering it for a retry after a challenge.
    private mutating func request(_ method: STUNMethod, _ attributes: [STUNAttribute]) -> ByteBuffer {
        transaction = .random()
        lastRequest = (method, attributes)
        return auth.message(
            STUNMessageType(method: method, messageClass: .request), attributes, transactionID: transaction)
    }
}
