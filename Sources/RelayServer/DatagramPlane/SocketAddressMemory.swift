import CDatagramSockets
import STUN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Conversions between ``TransportAddress`` and the kernel's socket addresses in raw memory, for the batched
/// system calls: no strings, no allocation.
extension TransportAddress {
    /// Reads an IPv4 or IPv6 socket address (`sockaddr_in` or `sockaddr_in6`); nil for another family.
    init?(socketAddressAt pointer: UnsafeRawPointer) {
        var address = partyline_address()
        guard partyline_address_read(pointer, &address) == 1 else { return nil }
        if address.family == 4 {
            self.init(ip: .v4(address.v4), port: address.port)
        } else {
            self.init(ip: .v6(high: address.v6_high, low: address.v6_low), port: address.port)
        }
    }

    /// Writes this address as a `sockaddr_in` or `sockaddr_in6` into `pointer` (room for a
    /// `sockaddr_storage`) and returns its length.
    func writeSocketAddress(to pointer: UnsafeMutableRawPointer) -> socklen_t {
        var address = partyline_address()
        address.port = port
        switch ip {
        case .v4(let raw):
            address.family = 4
            address.v4 = raw
        case .v6(let high, let low):
            address.family = 6
            address.v6_high = high
            address.v6_low = low
        }
        return partyline_address_write(pointer, &address)
    }
}
