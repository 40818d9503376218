import NIOCore

/// Whom a connection counts against: an IPv4 address, or the /64 prefix of an IPv6 address (one
/// subscriber's network; an attacker holding a /64 is one source, not 2^64). IPv4-mapped IPv6 addresses
/// count as their IPv4 address.
public struct ConnectionSource: Hashable, Sendable, CustomStringConvertible {
    /// The IPv4 address in the low 32 bits, or the IPv6 /64 prefix.
    let bits: UInt64
    let isIPv6: Bool

    /// An IPv4 source.
    public init(ipv4 bytes: (UInt8, UInt8, UInt8, UInt8)) {
        self.init(
            bits: UInt64(bytes.0) << 24 | UInt64(bytes.1) << 16 | UInt64(bytes.2) << 8 | UInt64(bytes.3), isIPv6: false)
    }

    /// An IPv6 source from the address's 16 bytes.
    public init(ipv6 bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        precondition(bytes.count == 16)
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            self.init(ipv4: (bytes[12], bytes[13], bytes[14], bytes[15]))
        } else {
            self.init(bits: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, isIPv6: true)
        }
    }

    private init(bits: UInt64, isIPv6: Bool) {
        self.bits = bits
        self.isIPv6 = isIPv6
    }

    /// The source of a connection's remote address; nil for a Unix socket (not counted).
    public init?(_ address: SocketAddress) {
        // sockaddr_in: family(2) port(2) addr(4); sockaddr_in6: family(2) port(2) flowinfo(4) addr(16).
        let source: ConnectionSource? = address.withSockAddr { pointer, size in
            let raw = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: size)
            switch address.protocol {
            case .inet where size >= 8: return ConnectionSource(ipv4: (raw[4], raw[5], raw[6], raw[7]))
            case .inet6 where size >= 24: return ConnectionSource(ipv6: raw[8..<24])
            default: return nil
            }
        }
        guard let source else { return nil }
        self = source
    }

    public var description: String {
        if !isIPv6 {
            return [24, 16, 8, 0].map { String((bits >> UInt64($0)) & 0xFF) }.joined(separator: ".")
        }
        let groups = [48, 32, 16, 0].map { String((bits >> UInt64($0)) & 0xFFFF, radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}
