import STUN

/// Which peers a relay may send to (RFC 8656 §21.2.3: a relay must not become a way into the networks
/// behind it). Checked on every peer path: CreatePermission, ChannelBind, Send and Connect.
///
/// An IPv6 address that carries an IPv4 one (IPv4-mapped, IPv4-compatible, SIIT, NAT64, 6to4, Teredo) is
/// judged by the IPv4 address too, so `::ffff:127.0.0.1` and `::ffff:0:127.0.0.1` are loopback.
///
/// The rules, in order:
/// 1. A peer on one of the server's own addresses (``serverNetworks``) is refused on the ports the server
///    listens on with that transport (``listenerPorts``), whatever the allow-list says: the relay never
///    reaches its own STUN, TURN or HTTP listeners.
/// 2. ``allowed`` wins over ``denied``.
/// 3. Any other port of the server's own addresses passes only when ``allowed`` covers it, or when it is a
///    relay port (another client's relayed address: two clients of one relay reaching each other).
public struct PeerAddressPolicy: Sendable {
    /// Why a peer was refused.
    public enum Refusal: Hashable, Sendable, CustomStringConvertible {
        /// In a denied network and not allowed.
        case deniedNetwork(IPNetwork)
        /// One of the server's addresses on a port that is not a relay port.
        case serverAddress
        /// One of the server's own listeners.
        case serverListener(port: UInt16)

        public var description: String {
            switch self {
            case .deniedNetwork(let network): "denied network \(network)"
            case .serverAddress: "the server's own address outside the relay ports"
            case .serverListener(let port): "the server's own listener port \(port)"
            }
        }
    }

    /// How the relay would reach a peer: datagrams (Send, ChannelBind) or a connection (RFC 6062 Connect).
    public enum PeerTransport: Hashable, Sendable {
        case udp, tcp
    }

    public var denied: [IPNetwork]
    public var allowed: [IPNetwork]
    /// The server's own addresses: its relay and listener addresses, and for a wildcard listener every
    /// local address (all of loopback).
    public var serverNetworks: [IPNetwork]
    /// The ports the server listens on, by transport (STUN/TURN over UDP; over TCP and TLS, and HTTP).
    public var listenerPorts: [PeerTransport: Set<UInt16>]
    /// The relay port range.
    public var relayPorts: ClosedRange<UInt16>?

    public init(
        denied: [IPNetwork] = PeerAddressPolicy.defaultDenied, allowed: [IPNetwork] = [],
        serverAddresses: Set<IPAddress> = [], serverNetworks: [IPNetwork] = [],
        listenerPorts: [PeerTransport: Set<UInt16>] = [:], relayPorts: ClosedRange<UInt16>? = nil
    ) {
        self.denied = denied
        self.allowed = allowed
        self.serverNetworks = serverNetworks + serverAddresses.map(IPNetwork.init(host:))
        self.listenerPorts = listenerPorts
        self.relayPorts = relayPorts
    }

    /// Nil when datagrams (`transport` .udp: Send, ChannelBind) or a connection (.tcp: Connect) may go to
    /// `peer`.
    public func refusal(for peer: TransportAddress, transport: PeerTransport = .udp) -> Refusal? {
        let forms = Self.forms(of: peer.ip)
        let isServer = isServer(forms)
        if isServer, listenerPorts[transport]?.contains(peer.port) == true { return .serverListener(port: peer.port) }
        if let refusal = networkRefusal(forms) { return refusal }
        if isServer, !isAllowed(forms), relayPorts?.contains(peer.port) != true { return .serverAddress }
        return nil
    }

    /// Nil when a permission (CreatePermission: an IP, no port) may be installed for `peer`. A server
    /// address passes when relay ports are known or the address is allowed, since its port is judged when
    /// data is sent.
    public func permissionRefusal(for peer: IPAddress) -> Refusal? {
        let forms = Self.forms(of: peer)
        if let refusal = networkRefusal(forms) { return refusal }
        if isServer(forms), !isAllowed(forms), relayPorts == nil { return .serverAddress }
        return nil
    }

    /// Nil when `peer` may be relayed to on any port but the server's listeners; otherwise why not.
    public func refusal(for peer: IPAddress) -> Refusal? {
        let forms = Self.forms(of: peer)
        if let refusal = networkRefusal(forms) { return refusal }
        if isServer(forms), !isAllowed(forms) { return .serverAddress }
        return nil
    }

    /// The allow and deny lists alone.
    private func networkRefusal(_ forms: [IPAddress]) -> Refusal? {
        if isAllowed(forms) { return nil }
        for form in forms {
            if let network = denied.first(where: { $0.contains(form) }) { return .deniedNetwork(network) }
        }
        return nil
    }

    private func isAllowed(_ forms: [IPAddress]) -> Bool {
        forms.contains { form in allowed.contains { $0.contains(form) } }
    }

    private func isServer(_ forms: [IPAddress]) -> Bool {
        forms.contains { form in serverNetworks.contains { $0.contains(form) } }
    }

    /// The address itself and any IPv4 address embedded in it.
    static func forms(of ip: IPAddress) -> [IPAddress] {
        guard case .v6(let high, let low) = ip else { return [ip] }
        let lastWord = UInt32(truncatingIfNeeded: low)
        var forms = [ip]
        switch (high, low >> 32) {
        case (0, 0x0000_FFFF), (0, 0xFFFF_0000), (0, 0):
            // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), ::ffff:0:a.b.c.d (SIIT, RFC 7915 / RFC 6052), ::a.b.c.d
            // (deprecated compatible)
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
