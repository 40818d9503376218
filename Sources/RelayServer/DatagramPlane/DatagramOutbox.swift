import CDatagramSockets
import NIOCore
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The datagrams a plane sends at the end of a read burst: written back to back into one buffer that is
/// reused burst after burst, then sent with one sendmmsg per socket. With segmentation, a run of one size
/// to one destination is one message with a UDP_SEGMENT size that the kernel cuts into the same
/// datagrams; a socket whose segmented write the kernel refuses (EINVAL above the path MTU, EIO without
/// checksum offload) sends that run again one by one and is never segmented again.
final class DatagramOutbox {
    private struct Entry {
        var fd: CInt
        var offset: Int
        var length: Int
        var destination: TransportAddress
    }

    /// What one flush did.
    struct Report {
        var sent = 0
        /// Datagrams the kernel refused (full send buffer, unreachable, …).
        var dropped = 0
        /// Messages the kernel took that carried more than one datagram.
        var coalesced = 0
        /// Sockets found unable to segment during this flush.
        var segmentationRefused = 0
    }

    /// Where the caller writes a message before ``commit(fd:to:from:)``.
    var bytes: ByteBuffer
    /// Whether runs to one destination may leave as one segmented write.
    let segmentation: Bool
    private var entries: [Entry] = []
    private var order: [Int] = []
    private var unsegmented: Set<CInt> = []
    private var memory = DatagramBatchMemory(capacity: 256)
    private var datagrams: UnsafeMutablePointer<partyline_datagram> { memory.datagrams }
    private var vectors: UnsafeMutablePointer<iovec> { memory.vectors }
    private var names: UnsafeMutablePointer<sockaddr_storage> { memory.addresses }
    /// Room for a UDP_SEGMENT control message per message.
    private var controls: UnsafeMutableRawPointer
    private let controlBytes = partyline_segment_control_bytes()
    /// Segmented runs hold datagrams of up to 1,200 bytes, which fit any path of 1,280 bytes (IPv6's
    /// minimum MTU) with headers.
    private static let runs = DatagramRuns(maximumSegmentBytes: 1_200)

    init(segmentation: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.segmentation = segmentation
        bytes = allocator.buffer(capacity: 64 * 1024)
        controls = .allocate(byteCount: max(1, 256 * controlBytes), alignment: 16)
    }

    deinit { controls.deallocate() }

    var isEmpty: Bool { entries.isEmpty }

    /// Queues the message the caller wrote into ``bytes`` since `start`.
    func commit(fd: CInt, to destination: TransportAddress, from start: Int) {
        let length = bytes.writerIndex - start
        guard length > 0 else { return }
        entries.append(Entry(fd: fd, offset: start, length: length, destination: destination))
    }

    /// Queues a copy of `message`.
    func append(_ message: ByteBuffer, fd: CInt, to destination: TransportAddress) {
        let start = bytes.writerIndex
        bytes.writeImmutableBuffer(message)
        commit(fd: fd, to: destination, from: start)
    }

    /// Forgets what was learnt about a socket that is closing (its descriptor may be reused).
    func forget(_ fd: CInt) { unsegmented.remove(fd) }

    /// Sends everything queued, one sendmmsg per socket in the order each socket's datagrams were queued.
    func flush() -> Report {
        var report = Report()
        guard !entries.isEmpty else { return report }
        if entries.count > memory.capacity { reserve(max(entries.count, memory.capacity * 2)) }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: entries.indices)
        let firstFD = entries[0].fd
        if entries.contains(where: { $0.fd != firstFD }) {
            order.sort { (entries[$0].fd, $0) < (entries[$1].fd, $1) }
        }
        bytes.withUnsafeReadableBytes { memory in
            var position = 0
            while position < order.count {
                let fd = entries[order[position]].fd
                var groupEnd = position + 1
                while groupEnd < order.count, entries[order[groupEnd]].fd == fd { groupEnd += 1 }
                let messages = prepare(fd: fd, from: position, to: groupEnd, memory: memory)
                send(fd: fd, messages: messages, report: &report)
                position = groupEnd
            }
        }
        entries.removeAll(keepingCapacity: true)
        bytes.clear()
        return report
    }

    /// Fills the scratch messages for the entries `order[start..<end]` of one socket; returns their count.
    private func prepare(fd: CInt, from start: Int, to end: Int, memory: UnsafeRawBufferPointer) -> Int {
        let segmenting = segmentation && !unsegmented.contains(fd)
        var messages = 0
        var vectorCount = 0
        var index = start
        while index < end {
            let first = entries[order[index]]
            let runEnd =
                segmenting
                ? Self.runs.end(
                    from: index, to: end, size: { self.entries[self.order[$0]].length },
                    joins: { self.entries[self.order[$0]].destination == first.destination }) : index + 1
            let nameLength = first.destination.writeSocketAddress(to: UnsafeMutableRawPointer(names + messages))
            for position in index..<runEnd {
                let entry = entries[order[position]]
                vectors[vectorCount + position - index] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: memory.baseAddress! + entry.offset),
                    iov_len: entry.length)
            }
            datagrams[messages].header = msghdr(
                msg_name: UnsafeMutableRawPointer(names + messages), msg_namelen: nameLength,
                msg_iov: vectors + vectorCount, msg_iovlen: runEnd - index, msg_control: nil, msg_controllen: 0,
                msg_flags: 0)
            if runEnd - index > 1 {
                partyline_set_segment_size(
                    &datagrams[messages].header, controls + messages * controlBytes, UInt16(first.length))
            }
            vectorCount += runEnd - index
            messages += 1
            index = runEnd
        }
        return messages
    }

    private func send(fd: CInt, messages: Int, report: inout Report) {
        var next = 0
        while next < messages {
            let result = Int(partyline_send_batch(fd, datagrams + next, CUnsignedInt(messages - next)))
            if result > 0 {
                for index in next..<(next + result) {
                    let carried = datagrams[index].header.msg_iovlen
                    report.sent += carried
                    if carried > 1 { report.coalesced += 1 }
                }
                next += result
                continue
            }
            let error = -result
            if error == EAGAIN || error == EWOULDBLOCK || result == 0 {
                // The socket's send buffer is full: the rest is lost, as on a congested link.
                for index in next..<messages { report.dropped += datagrams[index].header.msg_iovlen }
                return
            }
            if datagrams[next].header.msg_iovlen > 1 && (error == EINVAL || error == EIO) {
                unsegmented.insert(fd)
                report.segmentationRefused += 1
                sendOneByOne(fd: fd, message: next, report: &report)
            } else {
                report.dropped += datagrams[next].header.msg_iovlen
            }
            next += 1
        }
    }

    /// Sends the datagrams of a segmented message as separate messages.
    private func sendOneByOne(fd: CInt, message: Int, report: inout Report) {
        let header = datagrams[message].header
        for index in 0..<header.msg_iovlen {
            var single = partyline_datagram()
            single.header = msghdr(
                msg_name: header.msg_name, msg_namelen: header.msg_namelen, msg_iov: header.msg_iov + index,
                msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            if partyline_send_batch(fd, &single, 1) == 1 { report.sent += 1 } else { report.dropped += 1 }
        }
    }

    private func reserve(_ capacity: Int) {
        memory = DatagramBatchMemory(capacity: capacity)
        controls.deallocate()
        controls = .allocate(byteCount: max(1, capacity * controlBytes), alignment: 16)
    }
}
