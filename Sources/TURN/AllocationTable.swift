import NIOCore
import STUN

/// Limits and lifetimes of the allocation machine (RFC 8656 §7.2, §7.3).
public struct AllocationLimits: Sendable {
    /// Seconds; RFC 8656 recommends 600 s by default and 3600 s at most.
    public var defaultLifetime: UInt32 = 600
    public var maxLifetime: UInt32 = 3600
    /// 486 Allocation Quota Reached beyond this per username (REST usernames count per subject); the
    /// table's default ``AllocationLedger`` takes it from here.
    public var maxAllocationsPerUser = 10
    /// 508 Insufficient Capacity beyond this in total.
    public var maxAllocations = 10_000
    /// 508 for a CreatePermission or ChannelBind that would give one allocation more peers than this.
    public var maxPermissionsPerAllocation = 256
    /// Channel numbers ChannelBind accepts. RFC 8656 allows 0x4000–0x4FFF; the default also takes RFC
    /// 5766's 0x5000–0x7FFF, because libwebrtc (every browser) and coturn's clients still pick from there.
    public var channelNumbers = ChannelData.rfc5766Channels
    /// RFC 6062 peer connections per TCP allocation, pending and bound (each holds a descriptor): a
    /// Connect beyond it gets 508, an incoming connection is refused.
    public var maxConnectionsPerAllocation = 64
    /// TURN requests a second per client IP, and the burst allowed above that; 0 turns the limit off.
    public var requestsPerSecondPerIP: Double = 200
    public var requestBurstPerIP: Double = 400
    /// Relayed bytes a second per allocation, both directions together (one second's worth may come at
    /// once); nil for no cap. Data beyond it is dropped.
    public var maxBytesPerSecondPerAllocation: Int?

    public init() {}
}

/// RFC 8656's allocations as plain state: requests and packets in, actions out, time passed in. The NIO
/// driver owns the sockets; it carries out the actions and reports relay sockets it has opened.
public struct AllocationTable: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// What the driver must do.
    public enum Action: Sendable {
        /// Send these bytes to the client of `fiveTuple`.
        case toClient(FiveTuple, ByteBuffer)
        /// Open a relay socket of `family` for a successful Allocate, then call ``relayOpened(_:relayed:now:)``.
        case openRelay(PendingAllocation)
        /// Close the relay socket bound to this address.
        case closeRelay(TransportAddress)
        /// Send `data` from the relay socket `relay` to `peer`.
        case toPeer(relay: TransportAddress, peer: TransportAddress, data: ByteBuffer)
        /// RFC 6062: connect from the TCP relayed address `relay` to `peer`, then call
        /// ``peerConnected(id:now:)`` or ``peerConnectFailed(id:)``.
        case connectPeer(id: UInt32, relay: TransportAddress, peer: TransportAddress)
        /// RFC 6062: after the response, join the data connection `data` to peer connection `id`.
        case bindConnection(id: UInt32, data: FiveTuple)
        /// RFC 6062: close peer connection `id` and the data connection bound to it, if any.
        case closeConnection(id: UInt32)
        /// A request of `client` named a peer the policy refuses (answered 403 by the action before): for
        /// the operator's log.
        case peerRefused(client: FiveTuple, peer: String, PeerAddressPolicy.Refusal)

        /// Whether the action opens a relay socket (the Allocate is answered once it is open).
        var opensRelay: Bool { if case .openRelay = self { true } else { false } }
    }

    /// What an allocation relays: UDP datagrams (RFC 8656) or TCP connections (RFC 6062).
    public enum RelayedTransport: Sendable, Hashable {
        case udp, tcp
    }

    /// An authenticated, valid Allocate waiting for its relay sockets.
    public struct PendingAllocation: Sendable {
        public let fiveTuple: FiveTuple
        /// One family, or IPv4 then IPv6 for a dual allocation (RFC 8656 §7.2, ADDITIONAL-ADDRESS-FAMILY).
        /// With a reservation token, the family is the reserved port's.
        public let families: [AddressFamily]
        public let lifetime: UInt32
        /// EVEN-PORT: the relayed port must be even; with `reserveNextPort`, the next port is held for a
        /// later Allocate that brings the RESERVATION-TOKEN the driver returns.
        public let evenPort: Bool
        public let reserveNextPort: Bool
        /// RESERVATION-TOKEN: the relayed address is the one reserved under this token, or there is none (508).
        public let reservationToken: UInt64?
        /// DONT-FRAGMENT: relay with the DF bit set.
        public let dontFragment: Bool
        /// UDP sockets, or TCP listeners for RFC 6062 allocations.
        public let relayedTransport: RelayedTransport
        let request: TransactionID
        let identity: TURNAuthenticator.Identity
        let reply: Reply
    }

    /// One allocation.
    public struct Allocation: Sendable {
        public let fiveTuple: FiveTuple
        /// One relayed address per family: one, or two for a dual allocation.
        public let relayedAddresses: [TransportAddress]
        public let relayedTransport: RelayedTransport
        public let identity: TURNAuthenticator.Identity
        public internal(set) var expires: Instant
        public internal(set) var bindings = PeerBindings()
        /// The bandwidth cap's bucket, when there is a cap.
        var bandwidth: TokenBucket?
        let allocateTransaction: TransactionID

        /// The first relayed address.
        public var relayed: TransportAddress { relayedAddresses[0] }

        /// The relayed address that can reach peers of `family`.
        public func relayed(for family: AddressFamily) -> TransportAddress? {
            relayedAddresses.first { $0.ip.family == family }
        }

        /// REST users are counted per subject, static users per username.
        var owner: String { identity.owner }
    }

    /// The allocation of `fiveTuple` if it has not expired (an expired one is gone even before
    /// ``expire(now:)`` sweeps it, RFC 8656 §7.5).
    func live(_ fiveTuple: FiveTuple, now: Instant) -> Allocation? {
        guard let allocation = allocations[fiveTuple], now < allocation.expires else { return nil }
        return allocation
    }

    /// Whether `fiveTuple` has a live allocation (the connection of a TCP or TLS client that holds one is
    /// never timed out as idle).
    public func hasAllocation(_ fiveTuple: FiveTuple, now: Instant) -> Bool { live(fiveTuple, now: now) != nil }

    public var authenticator: TURNAuthenticator
    public var peerPolicy: PeerAddressPolicy
    public var limits: AllocationLimits
    /// Per-owner and total counts, shared with the tables of other event loops.
    public let ledger: AllocationLedger
    /// The address families this server can relay; others get 440.
    public var relayFamilies: Set<AddressFamily>
    public var software: String
    public internal(set) var allocations: [FiveTuple: Allocation] = [:]
    /// Set while the server drains: a new Allocate gets 300 Try Alternate with ``alternateServer``, or 508
    /// without one; allocations that exist go on (refreshes, permissions, channels, data).
    public var draining = false
    /// Subject prefixes (`session/turn`) of the turns running when the drain began: their members may still
    /// allocate (a turn's clients allocate as it starts, and again after a reconnect).
    public var drainExempt: [String] = []
    /// Where a draining server sends new allocations (`turn.alternateServer`).
    public var alternateServer: TransportAddress?
    /// How requests were answered and why some were not authenticated.
    public internal(set) var statistics = TURNRequestStatistics()
    var byRelay: [TransportAddress: FiveTuple] = [:]
    /// Allocates waiting for their relay sockets, by 5-tuple: the Allocate's transaction ID and owner.
    var pending: [FiveTuple: (transaction: TransactionID, identity: TURNAuthenticator.Identity)] = [:]
    /// RFC 6062 peer connections by CONNECTION-ID, and the Connect requests still waiting for theirs.
    public internal(set) var connections: [UInt32: PeerConnection] = [:]
    /// The same connections by allocation, and the bound ones by data connection: no lookup scans them all.
    var connectionsByAllocation: [FiveTuple: Set<UInt32>] = [:]
    var connectionByData: [FiveTuple: UInt32] = [:]
    var connectReplies: [UInt32: Reply] = [:]
    /// Per-IP limit on requests, shared with the tables of other event loops; nil when turned off.
    public let rateLimiter: RequestRateLimiter<IPAddress>?
    /// The top byte of this table's CONNECTION-IDs (the driver gives each event loop its own).
    public var connectionIDPrefix: UInt8 = 0
    /// Subject prefixes whose REST credentials ``revoke(subjectPrefix:)`` has withdrawn, with when; each is
    /// forgotten ``revocationMemory`` later (signalling revokes one prefix per turn, so this must not grow).
    public internal(set) var revokedSubjectPrefixes: [String: Instant] = [:]
    /// How long a revocation is remembered: longer than any turn-scoped credential lives.
    public static let revocationMemory: Duration = .seconds(24 * 3600)

    public init(
        authenticator: TURNAuthenticator, peerPolicy: PeerAddressPolicy = PeerAddressPolicy(),
        limits: AllocationLimits = AllocationLimits(), ledger: AllocationLedger? = nil,
        relayFamilies: Set<AddressFamily> = [.ipv4, .ipv6], software: String = "PartyLine"
    ) {
        self.authenticator = authenticator
        self.peerPolicy = peerPolicy
        self.limits = limits
        self.ledger =
            ledger ?? AllocationLedger(maxPerOwner: limits.maxAllocationsPerUser, maxTotal: limits.maxAllocations)
        self.relayFamilies = relayFamilies
        self.software = software
        rateLimiter =
            limits.requestsPerSecondPerIP > 0
            ? RequestRateLimiter<IPAddress>(
                rate: limits.requestsPerSecondPerIP, burst: max(1, limits.requestBurstPerIP)) : nil
    }
}
