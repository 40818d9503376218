import STUN

/// An IP prefix such as `10.0.0.0/8` or `fc00::/7`.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Nil when the prefix is longer than the family allows.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= (address.family == .ipv4 ? 32 : 128) else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// The network of one host: /32 or /128.
    public init(host: IPAddress) {
        address = host
        prefixLength = host.family == .ipv4 ? 32 : 128
    }

    /// Parses `address/prefix`, or a bare address as a single-host network.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parsing: String(parts[0])) else { return nil }
        let length: Int
        if parts.count == 2 {
            guard let value = Int(parts[1]) else { return nil }
            length = value
        } else {
            length = address.family == .ipv4 ? 32 : 128
        }
        self.init(address: address, prefixLength: length)
    }

    public func contains(_ ip: IPAddress) -> Bool {
        switch (address, ip) {
        case (.v4(let network), .v4(let candidate)):
            guard prefixLength > 0 else { return true }
            let mask = UInt32.max << (32 - prefixLength)
            return network & mask == candidate & mask
        case (.v6(let networkHigh, let networkLow), .v6(let high, let low)):
            let highBits = min(prefixLength, 64)
            let lowBits = max(prefixLength - 64, 0)
            let highMask = highBits == 0 ? 0 : UInt64.max << (64 - highBits)
            let lowMask = lowBits == 0 ? 0 : UInt64.max << (64 - lowBits)
            return networkHigh & highMask == high & highMask && networkLow & lowMask == low & lowMask
        default:
            return false
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension IPAddress {
    /// `0.0.0.0` or `::`: a wildcard, not an address anyone can send to.
    public var isUnspecified: Bool {
        switch self {
        case .v4(let value): value == 0
        case .v6(let high, let low): high == 0 && low == 0
        }
    }

    /// Loopback (127/8, ::1) or link-local (169.254/16, fe80::/10): never a relay address for others.
    public var isLoopbackOrLinkLocal: Bool {
        ["127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"].contains { IPNetwork(parsing: $0)!.contains(self) }
    }
}
