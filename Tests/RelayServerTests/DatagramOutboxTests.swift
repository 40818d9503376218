import CDatagramSockets
import NIOCore
import STUN
import Testing

@testable import RelayServer

#if canImport(Glibc)
    import Glibc
#endif

/// The datagram plane's sending half over loopback sockets: what the kernel delivers is exactly what was
/// queued, whether a run left as one segmented write or, after the kernel refused segmentation, one by one.
@Suite(
    "Datagram outbox: sendmmsg and UDP GSO with a fallback, over loopback",
    .enabled(if: DatagramPlane.isSupported && System.supportsUDPSegmentationOffload))
struct DatagramOutboxTests {
    /// A non-blocking UDP socket bound to an ephemeral port of 127.0.0.1.
    final class Socket {
        let fd: CInt
        let address: TransportAddress

        init() throws {
            var storage = sockaddr_storage()
            let length = withUnsafeMutableBytes(of: &storage) {
                TransportAddress(ip: .v4(0x7F00_0001), port: 0).writeSocketAddress(to: $0.baseAddress!)
            }
            fd = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    partyline_udp_socket($0, length, 0, 0, 0, 1 << 20)
                }
            }
            try #require(fd >= 0)
            address = try #require(RelayServer.localAddress(of: fd))
        }

        deinit { close(fd) }

        /// The datagrams that arrive until `count` have, or until none comes for two seconds.
        func receive(_ count: Int) -> [(bytes: [UInt8], source: TransportAddress)] {
            let receiver = DatagramReceiver(capacity: 64)
            var received: [(bytes: [UInt8], source: TransportAddress)] = []
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while received.count < count, poll(&waiting, 1, 2_000) == 1 {
                let read = receiver.receive(from: fd)
                for index in 0..<max(0, read) {
                    guard let bytes = receiver.bytes(at: index), let source = receiver.source(at: index) else {
                        continue
                    }
                    received.append((Array(bytes.readableBytesView), source))
                }
            }
            return received
        }
    }

    /// Six datagrams for one destination: five of 100 bytes and a shorter last one, each byte its index.
    static func run(_ tag: UInt8) -> [[UInt8]] {
        (0..<6).map { index in [UInt8](repeating: tag &+ UInt8(index), count: index == 5 ? 37 : 100) }
    }

    static func queue(_ datagrams: [[UInt8]], on outbox: DatagramOutbox, from sender: Socket, to receiver: Socket) {
        for datagram in datagrams {
            outbox.append(ByteBuffer(bytes: datagram), fd: sender.fd, to: receiver.address)
        }
    }

    @Test("a run to one destination leaves as one segmented write and arrives as the same datagrams, in order")
    func segmented() throws {
        let sender = try Socket()
        let receiver = try Socket()
        let outbox = DatagramOutbox(segmentation: true)
        Self.queue(Self.run(10), on: outbox, from: sender, to: receiver)
        let report = outbox.flush()
        #expect(report.sent == 6 && report.dropped == 0)
        #expect(report.coalesced == 1 && report.segmentationRefused == 0)
        let received = receiver.receive(6)
        #expect(received.map(\.bytes) == Self.run(10))
        #expect(received.allSatisfy { $0.source == sender.address })
    }

    @Test("a socket whose segmented write the kernel refuses sends the run one by one, and never segments again")
    func refusedSegmentation() throws {
        let sender = try Socket()
        let receiver = try Socket()
        // With UDP checksums off (SO_NO_CHECK) the kernel refuses every UDP_SEGMENT write with EINVAL.
        var on: CInt = 1
        try #require(setsockopt(sender.fd, SOL_SOCKET, SO_NO_CHECK, &on, socklen_t(MemoryLayout<CInt>.size)) == 0)
        let outbox = DatagramOutbox(segmentation: true)
        Self.queue(Self.run(10), on: outbox, from: sender, to: receiver)
        let first = outbox.flush()
        #expect(first.segmentationRefused == 1, "the kernel took a segmented write with SO_NO_CHECK")
        #expect(first.sent == 6 && first.dropped == 0 && first.coalesced == 0)
        Self.queue(Self.run(20), on: outbox, from: sender, to: receiver)
        let second = outbox.flush()
        #expect(second.segmentationRefused == 0 && second.sent == 6 && second.coalesced == 0)
        #expect(receiver.receive(12).map(\.bytes) == Self.run(10) + Self.run(20))
    }

    @Test("interleaved sockets and destinations: each pair of sockets keeps the order its datagrams were queued in")
    func interleaved() throws {
        let senders = [try Socket(), try Socket()]
        let receivers = [try Socket(), try Socket()]
        let outbox = DatagramOutbox(segmentation: true)
        var expected = [[[[UInt8]]]](repeating: [[], []], count: 2)
        for round in 0..<24 {
            let (from, to) = (round % 2, (round / 3) % 2)
            let datagram = [UInt8](repeating: UInt8(round), count: 100)
            outbox.append(ByteBuffer(bytes: datagram), fd: senders[from].fd, to: receivers[to].address)
            expected[from][to].append(datagram)
        }
        let report = outbox.flush()
        #expect(report.sent == 24 && report.dropped == 0)
        for (to, receiver) in receivers.enumerated() {
            let received = receiver.receive(12)
            #expect(received.count == 12)
            for (from, sender) in senders.enumerated() {
                #expect(received.filter { $0.source == sender.address }.map(\.bytes) == expected[from][to])
            }
        }
    }
}
