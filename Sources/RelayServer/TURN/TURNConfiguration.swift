import NIOCore
import STUN
import TURN

/// What the TURN relay needs beyond the STUN listeners: who may allocate, where relay sockets live, and
/// the limits. TURN is on when there is at least one static user or REST secret.
public struct TURNConfiguration: Sendable {
    /// RFC 8656's default relay port range (the IANA dynamic ports).
    public static let defaultRelayPorts: ClosedRange<UInt16> = 49152...65535

    public var realm: String
    /// Long-term credentials: username → password.
    public var staticUsers: [String: String]
    /// TURN REST shared secrets (coturn's `use-auth-secret`); the first mints, all verify.
    public var restSecrets: [String]
    /// The addresses relay sockets bind to and advertise, at most one per family. Empty: the first
    /// concrete UDP listener address of each family, else the first non-loopback interface address.
    public var relayAddresses: [IPAddress]
    /// Behind a 1:1 NAT (cloud VMs), the public address to advertise for a relay address, which is then
    /// the private (or wildcard) address the sockets bind to.
    public var advertisedRelayAddresses: [IPAddress: IPAddress]
    public var relayPorts: ClosedRange<UInt16>
    public var limits: AllocationLimits
    /// Peers allowed even inside the denied networks (tests allow loopback).
    public var allowedPeers: [IPNetwork]
    public var deniedPeers: [IPNetwork]
    /// Seconds a nonce stays fresh before 438.
    public var nonceLifetime: UInt64
    /// Runs of same-size datagrams (at most 1,200 bytes) for one destination in one read burst leave as one
    /// UDP GSO write, which the kernel cuts into the same datagrams (Linux 4.18+). Nil (the default) is on
    /// with ``UDPIO/batched``, whose planes send a run the kernel refuses (a path MTU below 1,228 bytes, an
    /// egress device without checksum offload) again one by one and stop segmenting on that socket, and off
    /// with ``UDPIO/eventLoop``, where such a refusal is an error SwiftNIO treats as fatal, closing the socket.
    public var udpSegmentation: Bool?
    /// Where new allocations go while this server drains (300 Try Alternate with ALTERNATE-SERVER, RFC 8489
    /// §10); without one they get 508.
    public var alternateServer: TransportAddress?

    public init(
        realm: String = "partyline", staticUsers: [String: String] = [:], restSecrets: [String] = [],
        relayAddresses: [IPAddress] = [], advertisedRelayAddresses: [IPAddress: IPAddress] = [:],
        relayPorts: ClosedRange<UInt16> = defaultRelayPorts,
        limits: AllocationLimits = AllocationLimits(), allowedPeers: [IPNetwork] = [],
        deniedPeers: [IPNetwork] = PeerAddressPolicy.defaultDenied, nonceLifetime: UInt64 = 600
    ) {
        self.realm = realm
        self.staticUsers = staticUsers
        self.restSecrets = restSecrets
        self.relayAddresses = relayAddresses
        self.advertisedRelayAddresses = advertisedRelayAddresses
        self.relayPorts = relayPorts
        self.limits = limits
        self.allowedPeers = allowedPeers
        self.deniedPeers = deniedPeers
        self.nonceLifetime = nonceLifetime
    }

    /// Whether anyone could authenticate, so TURN requests are served at all.
    public var isEnabled: Bool { !staticUsers.isEmpty || !restSecrets.isEmpty }
}
