import NIOCore
import STUN

/// Limits and lifetimes of the allocation machine (RFC 8656 §7.2, §7.3).
public struct AllocationLimits: Sendable {
    /// Seconds; RFC 8656 recommends 600 s by default and 3600 s at most.
    public var defaultLifetime: UInt32 = 600
    public var maxLifetime: UInt32 = 3600
    /// 486 Allocation Quota Reached beyond this per username (REST usernames count per subject).
    public var maxAllocationsPerUser = 10
    /// 508 Insufficient Capacity beyond this in total.
    public var maxAllocations = 10_000

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
    }

    /// An authenticated, valid Allocate waiting for its relay socket.
    public struct PendingAllocation: Sendable {
        public let fiveTuple: FiveTuple
        public let family: AddressFamily
        public let lifetime: UInt32
        let request: TransactionID
        let identity: TURNAuthenticator.Identity
        let reply: Reply
    }

    /// One allocation.
    public struct Allocation: Sendable {
        public let fiveTuple: FiveTuple
        public let relayed: TransportAddress
        public let identity: TURNAuthenticator.Identity
        public internal(set) var expires: Instant
        public internal(set) var bindings = PeerBindings()
        let allocateTransaction: TransactionID

        /// REST users are counted per subject, static users per username.
        var owner: String { identity.subject ?? identity.username }
    }

    /// The allocation of `fiveTuple` if it has not expired (an expired one is gone even before
    /// ``expire(now:)`` sweeps it, RFC 8656 §7.5).
    func live(_ fiveTuple: FiveTuple, now: Instant) -> Allocation? {
        guard let allocation = allocations[fiveTuple], now < allocation.expires else { return nil }
        return allocation
    }

    public var authenticator: TURNAuthenticator
    public var peerPolicy: PeerAddressPolicy
    public var limits: AllocationLimits
    public var software: String
    public internal(set) var allocations: [FiveTuple: Allocation] = [:]
    var byRelay: [TransportAddress: FiveTuple] = [:]
    /// Allocates waiting for their relay socket, by 5-tuple: the Allocate's transaction ID and owner.
    var pending: [FiveTuple: (transaction: TransactionID, owner: String)] = [:]
    /// Subjects whose REST credentials ``revoke(subjectPrefix:)`` has withdrawn.
    public internal(set) var revokedSubjectPrefixes: Set<String> = []

    public init(
        authenticator: TURNAuthenticator, peerPolicy: PeerAddressPolicy = PeerAddressPolicy(),
        limits: AllocationLimits = AllocationLimits(), software: String = "PartyLine"
    ) {
        self.authenticator = authenticator
        self.peerPolicy = peerPolicy
        self.limits = limits
        self.software = software
    }
}
