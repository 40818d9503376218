import CDatagramSockets

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Memory for the messages of one recvmmsg or sendmmsg call, allocated once: a header, a vector and a
/// socket address per message.
final class DatagramBatchMemory {
    let capacity: Int
    let datagrams: UnsafeMutablePointer<partyline_datagram>
    let vectors: UnsafeMutablePointer<iovec>
    let addresses: UnsafeMutablePointer<sockaddr_storage>

    init(capacity: Int) {
        self.capacity = capacity
        datagrams = .allocate(capacity: capacity)
        datagrams.initialize(repeating: partyline_datagram(), count: capacity)
        vectors = .allocate(capacity: capacity)
        vectors.initialize(repeating: iovec(), count: capacity)
        addresses = .allocate(capacity: capacity)
        addresses.initialize(repeating: sockaddr_storage(), count: capacity)
    }

    deinit {
        datagrams.deallocate()
        vectors.deallocate()
        addresses.deallocate()
    }
}
