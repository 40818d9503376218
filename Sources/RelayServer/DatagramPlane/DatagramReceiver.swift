import CDatagramSockets
import NIOCore
import STUN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One recvmmsg at a time into memory allocated once: a plane's sockets share it, because each batch is
/// handled and its answers sent before the next read. A datagram is a slice of one ``ByteBuffer`` (no copy,
/// no allocation) and its source a ``TransportAddress`` read from the raw socket address.
final class DatagramReceiver {
    /// Datagrams per recvmmsg.
    let capacity: Int
    /// Bytes per datagram; a longer one is truncated by the kernel and dropped here.
    static let slotBytes = 2048

    private var buffer: ByteBuffer
    private let memory: DatagramBatchMemory
    private var datagrams: UnsafeMutablePointer<partyline_datagram> { memory.datagrams }
    private var vectors: UnsafeMutablePointer<iovec> { memory.vectors }
    private var addresses: UnsafeMutablePointer<sockaddr_storage> { memory.addresses }
    private(set) var count = 0

    init(capacity: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.capacity = capacity
        buffer = allocator.buffer(capacity: capacity * Self.slotBytes)
        memory = DatagramBatchMemory(capacity: capacity)
    }

    /// Reads up to ``capacity`` datagrams waiting on `fd`; returns how many, or -errno.
    func receive(from fd: CInt) -> Int {
        buffer.clear()
        let capacity = capacity
        let result = buffer.withUnsafeMutableWritableBytes { memory -> CInt in
            for index in 0..<capacity {
                vectors[index] = iovec(
                    iov_base: memory.baseAddress! + index * Self.slotBytes, iov_len: Self.slotBytes)
                datagrams[index].header = msghdr(
                    msg_name: UnsafeMutableRawPointer(addresses + index),
                    msg_namelen: socklen_t(MemoryLayout<sockaddr_storage>.size), msg_iov: vectors + index,
                    msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
                datagrams[index].length = 0
            }
            return partyline_receive_batch(fd, datagrams, CUnsignedInt(capacity))
        }
        count = max(0, Int(result))
        if count > 0 { buffer.moveWriterIndex(forwardBy: count * Self.slotBytes) }
        return Int(result)
    }

    /// The datagram at `index` of the last read, or nil when it was truncated (longer than a slot).
    func bytes(at index: Int) -> ByteBuffer? {
        guard datagrams[index].header.msg_flags & CInt(MSG_TRUNC) == 0 else { return nil }
        return buffer.getSlice(at: index * Self.slotBytes, length: Int(datagrams[index].length))
    }

    /// Where the datagram at `index` came from.
    func source(at index: Int) -> TransportAddress? {
        TransportAddress(socketAddressAt: UnsafeRawPointer(addresses + index))
    }
}
