import STUN

/// Which peers a relay may send to (RFC 8656 §21.2.3: a relay must not become a way into the networks
/// behind it). Checked on every peer path: CreatePermission, ChannelBind, Send and Connect.
///
/// An IPv6 address that carries an IPv4 one (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) is judged
/// by the IPv4 address too, so `::ffff:127.0.0.1` is loopback. The allowlist wins over everything.
public struct PeerAddressPolicy: Sendable {
    /// Why a peer was refused.
    public enum Refusal: Hashable, Sendable {
        case deniedNetwork(IPNetwork)
        case serverAddress
    }

    public var denied: [IPNetwork]
    public var allowed: [IPNetwork]
    /// The relay's own addresses (its listeners and relay sockets).
    public var serverAddresses: Set<IPAddress>
    /// The relay port range. A peer at one of ``serverAddresses`` is allowed on these ports only: that is
    /// another client's relayed address (two clients of one relay reaching each other, as WebRTC does
    /// when both sides are behind NATs that need TURN), never the relay's listeners or other services.
    public var relayPorts: ClosedRange<UInt16>?

    public init(
        denied: [IPNetwork] = PeerAddressPolicy.defaultDenied, allowed: [IPNetwork] = [],
        serverAddresses: Set<IPAddress> = [], relayPorts: ClosedRange<UInt16>? = nil
    ) {
        self.denied = denied
        self.allowed = allowed
        self.serverAddresses = serverAddresses
        self.relayPorts = relayPorts
    }

    /// Nil when datagrams may be relayed to `peer` (Send, ChannelBind): a server address passes on a
    /// relay port only.
    public func refusal(for peer: TransportAddress) -> Refusal? {
        let refusal = refusal(for: peer.ip)
        if refusal == .serverAddress, let relayPorts, relayPorts.contains(peer.port) { return nil }
        return refusal
    }

    /// Nil when a permission (CreatePermission: an IP, no port) may be installed for `peer`. A server
    /// address passes when relay ports are known, since its port is judged when data is sent.
    public func permissionRefusal(for peer: IPAddress) -> Refusal? {
        let refusal = refusal(for: peer)
        return refusal == .serverAddress && relayPorts != nil ? nil : refusal
    }

    /// Nil when `peer` may be relayed to; otherwise why not (answered with 403).
    public func refusal(for peer: IPAddress) -> Refusal? {
        let forms = Self.forms(of: peer)
        if forms.contains(where: { form in allowed.contains { $0.contains(form) } }) { return nil }
        for form in forms {
            if let network = denied.first(where: { $0.contains(form) }) { return .deniedNetwork(network) }
        }
        return forms.contains(where: serverAddresses.contains) ? .serverAddress : nil
    }

    /// The address itself and any IPv4 address embedded in it.
    static func forms(of ip: IPAddress) -> [IPAddress] {
        guard case .v6(let high, let low) = ip else { return [ip] }
        let lastWord = UInt32(truncatingIfNeeded: low)
        var forms = [ip]
        switch (high, low >> 32) {
        case (0, 0x0000_FFFF), (0, 0):  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), ::a.b.c.d (deprecated compatible)
            if high == 0, low >> 32 == 0, lastWord <= 1 { break }  // :: and ::1 carry no IPv4 address
            forms.append(.v4(lastWord))
        case (0x0064_FF9B_0000_0000, 0):  // 64:ff9b::/96 NAT64 (RFC 6052)
            forms.append(.v4(lastWord))
        default:
            if high >> 48 == 0x2002 {  // 6to4 2002:AABB:CCDD::/48 (RFC 3056)
                forms.append(.v4(UInt32(truncatingIfNeeded: high >> 16)))
            } else if high >> 32 == 0x2001_0000 {  // Teredo 2001::/32: client address inverted (RFC 4380)
                forms.append(.v4(~lastWord))
            }
        }
        if high >> 32 == 0x0064_FF9B, high & 0xFFFF_0000 == 0x0001_0000 {  // 64:ff9b:1::/48 local NAT64 (RFC 8215)
            forms.append(.v4(lastWord))
        }
        return forms
    }

    /// Special-purpose ranges (IANA registries, RFC 6890) no relay should reach: loopback, private,
    /// shared, link-local, documentation, benchmarking, multicast, reserved, broadcast, unspecified,
    /// unique-local, site-local and the IPv6 transition prefixes judged by their embedded IPv4 above.
    public static let defaultDenied: [IPNetwork] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
        "::/128", "::1/128", "100::/64", "2001:2::/48", "2001:10::/28", "2001:20::/28", "2001:db8::/32",
        "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    ].map { IPNetwork(parsing: $0)! }
}
