import NIOCore

/// An IP address as STUN carries it: four or sixteen bytes, held inline.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// IPv4, host byte order (`192.0.2.1` is `0xC000_0201`).
    case v4(UInt32)
    /// IPv6 as two 64-bit halves, host byte order.
    case v6(high: UInt64, low: UInt64)

    public var family: AddressFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)"
        case .v6(let high, let low):
            let groups =
                (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * $0)) }
                + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * $0)) }
            return Self.compressedIPv6(groups)
        }
    }

    /// RFC 5952 text form: the longest run (≥ 2) of zero groups becomes `::`.
    private static func compressedIPv6(_ groups: [UInt16]) -> String {
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < groups.count {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < groups.count, groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        let text = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return text.joined(separator: ":") }
        let head = text[..<bestStart].joined(separator: ":")
        let tail = text[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}

/// The address families STUN and TURN encode (RFC 8489 §14.1, RFC 8656 §18.10).
public enum AddressFamily: UInt8, Hashable, Sendable {
    case ipv4 = 0x01
    case ipv6 = 0x02
}

/// An IP address and port: what MAPPED-ADDRESS and the XOR address attributes carry.
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    public var description: String {
        switch ip {
        case .v4: "\(ip):\(port)"
        case .v6: "[\(ip)]:\(port)"
        }
    }
}

extension TransportAddress {
    /// Converts a NIO socket address; nil for Unix-domain addresses.
    public init?(_ address: SocketAddress) {
        // sockaddr_in: family(2) port(2) addr(4); sockaddr_in6: family(2) port(2) flowinfo(4) addr(16).
        let converted: TransportAddress? = address.withSockAddr { pointer, size in
            let raw = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: size)
            func bigEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type) -> T {
                var value: T = 0
                for index in 0..<MemoryLayout<T>.size { value = value << 8 | T(raw[offset + index]) }
                return value
            }
            let port = bigEndian(at: 2, as: UInt16.self)
            switch address.protocol {
            case .inet:
                return TransportAddress(ip: .v4(bigEndian(at: 4, as: UInt32.self)), port: port)
            case .inet6:
                let ip = IPAddress.v6(high: bigEndian(at: 8, as: UInt64.self), low: bigEndian(at: 16, as: UInt64.self))
                return TransportAddress(ip: ip, port: port)
            default:
                return nil
            }
        }
        guard let converted else { return nil }
        self = converted
    }

    /// The NIO socket address for this transport address.
    public var socketAddress: SocketAddress {
        var packed = ByteBuffer()
        switch ip {
        case .v4(let raw):
            packed.writeInteger(raw)
        case .v6(let high, let low):
            packed.writeInteger(high)
            packed.writeInteger(low)
        }
        // A 4- or 16-byte packed address is always accepted.
        return try! SocketAddress(packedIPAddress: packed, port: Int(port))
    }
}

extension IPAddress {
    /// Parses dotted IPv4 or RFC 4291 IPv6 text (no brackets, no zone); nil otherwise.
    public init?(parsing text: String) {
        guard let address = try? SocketAddress(ipAddress: text, port: 0), let parsed = TransportAddress(address) else {
            return nil
        }
        self = parsed.ip
    }
}
