import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import TURN
import Testing

/// With `turn.udpSegmentation`, a burst for one UDP destination leaves the relay as one GSO write, which
/// the kernel cuts back into the same datagrams: the receiver sees exactly what it would without it.
@Suite("Relayed bursts to UDP destinations as GSO writes", .enabled(if: System.supportsUDPSegmentationOffload))
struct TURNSegmentationTests {
    /// A client with channel 0x4000 bound to a fresh peer, on a relay with segmentation `on`.
    func withChannel(
        segmentation: Bool, io: UDPIO,
        _ body: (RelayServer, TURNTestClient, TestUDPSocket, TransportAddress) async throws -> Void
    ) async throws {
        var turn = TURNConfiguration.loopback()
        turn.udpSegmentation = segmentation
        try await TURNRelayEndToEndTests.withRelay(turn, io: io) { server in
            let serverAddress = try #require(server.address(.udp))
            let client = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let peer = try await TestUDPSocket.bind()
            let peerSocket = try #require(peer.localAddress)
            let peerAddress = try #require(TransportAddress(peerSocket))
            let relayed = try TURNRelayEndToEndTests.relayed(try await client.allocate())
            let bound = try await client.request(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(peerAddress)])
            try #require(bound.type.messageClass == .successResponse)
            try await body(server, client, peer, relayed)
            await client.close()
            await peer.close()
        }
    }

    /// Bursts of eight datagrams of `size` bytes and a shorter last one, peer → client then client → peer,
    /// each checked datagram by datagram; returns the coalesced writes after each direction.
    func bursts(
        size: Int, _ server: RelayServer, _ client: TURNTestClient, _ peer: TestUDPSocket, _ relayed: TransportAddress
    ) async throws -> (toClient: Int, toPeer: Int) {
        var toClient = 0
        for round in 0..<20 where toClient == 0 {
            let payloads = (0..<9).map { index in
                ByteBuffer(bytes: [UInt8](repeating: UInt8(round * 9 + index), count: index == 8 ? 37 : size))
            }
            try await peer.sendBurst(payloads, to: relayed.socketAddress)
            for payload in payloads {
                let received = try #require(await client.receive(), "round \(round)")
                var expected = ByteBuffer()
                ChannelData(channel: 0x4000, data: payload).encode(into: &expected, padded: false)
                #expect(received == expected, "round \(round)")
            }
            toClient = await server.relayStatistics().coalescedWrites
        }
        var toPeer = toClient
        for round in 0..<20 where toPeer == toClient {
            let payloads = (0..<9).map { index in
                ByteBuffer(bytes: [UInt8](repeating: UInt8(round * 9 + index), count: index == 8 ? 11 : size))
            }
            try await client.sendBurst(payloads, channel: 0x4000)
            for payload in payloads {
                let received = try #require(await peer.receiveEnvelope(), "round \(round)")
                #expect(received.data == payload && TransportAddress(received.remoteAddress) == relayed)
            }
            toPeer = await server.relayStatistics().coalescedWrites
        }
        return (toClient, toPeer)
    }

    @Test(
        "every datagram of bursts both ways arrives intact and in order; bursts were coalesced",
        arguments: UDPIO.allCases)
    func coalesced(io: UDPIO) async throws {
        try await withChannel(segmentation: true, io: io) { server, client, peer, relayed in
            let writes = try await bursts(size: 300, server, client, peer, relayed)
            #expect(writes.toClient > 0, "no peer burst was read at once in 20 tries")
            #expect(writes.toPeer > writes.toClient, "no client burst was read at once in 20 tries")
        }
    }

    @Test("datagrams above 1,200 bytes, or with segmentation off, go one by one, intact", arguments: UDPIO.allCases)
    func notCoalesced(io: UDPIO) async throws {
        try await withChannel(segmentation: true, io: io) { server, client, peer, relayed in
            let writes = try await bursts(size: 1_300, server, client, peer, relayed)
            #expect(writes.toClient == 0 && writes.toPeer == 0)
        }
        try await withChannel(segmentation: false, io: io) { server, client, peer, relayed in
            let writes = try await bursts(size: 300, server, client, peer, relayed)
            #expect(writes.toClient == 0 && writes.toPeer == 0)
        }
    }
}
