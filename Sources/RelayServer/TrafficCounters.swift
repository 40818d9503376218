import Atomics

/// The transports the relay listens on.
public enum RelayTransport: String, Hashable, Sendable, CaseIterable {
    case udp, tcp, tls
}

/// Counters of one listener socket. Each socket has its own, so event loops never share a cache line;
/// ``RelayServer/statistics()`` adds them up. Every message ends in exactly one outcome counter, so
/// "received" is their sum and the hot path pays one atomic increment per message.
final class TrafficCounters: Sendable {
    let transport: RelayTransport
    let answered = ManagedAtomic<Int>(0)
    let errorResponses = ManagedAtomic<Int>(0)
    let malformed = ManagedAtomic<Int>(0)
    let ignored = ManagedAtomic<Int>(0)
    let connectionsAccepted = ManagedAtomic<Int>(0)
    let connectionsClosedForBadFraming = ManagedAtomic<Int>(0)
    let connectionsTimedOut = ManagedAtomic<Int>(0)

    init(transport: RelayTransport) { self.transport = transport }

    func record(_ outcome: BindingResponder.Outcome) {
        switch outcome {
        case .answered: answered.wrappingIncrement(ordering: .relaxed)
        case .answeredWithError: errorResponses.wrappingIncrement(ordering: .relaxed)
        case .dropped(.malformed): malformed.wrappingIncrement(ordering: .relaxed)
        case .dropped(.notARequest), .dropped(.unsupportedMethod): ignored.wrappingIncrement(ordering: .relaxed)
        }
    }

    func recordConnection() { connectionsAccepted.wrappingIncrement(ordering: .relaxed) }

    func recordBadFraming() { connectionsClosedForBadFraming.wrappingIncrement(ordering: .relaxed) }

    func recordTimeout() { connectionsTimedOut.wrappingIncrement(ordering: .relaxed) }

    /// ChannelData on a listener that has no TURN allocations yet: counted and dropped.
    func recordIgnored() {
        ignored.wrappingIncrement(ordering: .relaxed)
    }

    var snapshot: TrafficStatistics.Counts {
        let answered = answered.load(ordering: .relaxed)
        let errorResponses = errorResponses.load(ordering: .relaxed)
        let malformed = malformed.load(ordering: .relaxed)
        let ignored = ignored.load(ordering: .relaxed)
        let received = answered + errorResponses + malformed + ignored
        return TrafficStatistics.Counts(
            received: received, answered: answered, errorResponses: errorResponses, malformed: malformed,
            ignored: ignored,
            connectionsAccepted: connectionsAccepted.load(ordering: .relaxed),
            connectionsClosedForBadFraming: connectionsClosedForBadFraming.load(ordering: .relaxed),
            connectionsTimedOut: connectionsTimedOut.load(ordering: .relaxed))
    }
}

/// A snapshot of what the relay's listeners have seen, per transport.
public struct TrafficStatistics: Hashable, Sendable {
    public struct Counts: Hashable, Sendable {
        /// Datagrams or framed stream messages received.
        public var received = 0
        /// Success responses sent.
        public var answered = 0
        /// Error responses sent (420).
        public var errorResponses = 0
        /// Messages dropped as malformed, never answered.
        public var malformed = 0
        /// Well-formed indications, responses and requests for unsupported methods, dropped.
        public var ignored = 0
        public var connectionsAccepted = 0
        public var connectionsClosedForBadFraming = 0
        /// Stream connections closed for sending no first message in time, or idling without an allocation.
        public var connectionsTimedOut = 0

        static func + (lhs: Counts, rhs: Counts) -> Counts {
            Counts(
                received: lhs.received + rhs.received, answered: lhs.answered + rhs.answered,
                errorResponses: lhs.errorResponses + rhs.errorResponses, malformed: lhs.malformed + rhs.malformed,
                ignored: lhs.ignored + rhs.ignored,
                connectionsAccepted: lhs.connectionsAccepted + rhs.connectionsAccepted,
                connectionsClosedForBadFraming: lhs.connectionsClosedForBadFraming + rhs.connectionsClosedForBadFraming,
                connectionsTimedOut: lhs.connectionsTimedOut + rhs.connectionsTimedOut)
        }
    }

    public var byTransport: [RelayTransport: Counts] = [:]

    public subscript(transport: RelayTransport) -> Counts { byTransport[transport] ?? Counts() }
}
