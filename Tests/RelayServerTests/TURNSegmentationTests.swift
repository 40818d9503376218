import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import TURN
import Testing

/// A peer's burst for a UDP client leaves the relay as one GSO write, which the kernel cuts back into the
/// same datagrams: the client sees exactly what it would without it.
@Suite("Relayed bursts to UDP clients as GSO writes", .enabled(if: System.supportsUDPSegmentationOffload))
struct TURNSegmentationTests {
    @Test("every datagram of bursts both ways arrives intact and in order; bursts were coalesced")
    func bursts() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let serverAddress = try #require(server.address(.udp))
            let client = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let peer = try await TestUDPSocket.bind()
            let peerSocket = try #require(peer.localAddress)
            let peerAddress = try #require(TransportAddress(peerSocket))
            let relayed = try TURNRelayEndToEndTests.relayed(try await client.allocate())
            let bound = try await client.request(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(peerAddress)])
            try #require(bound.type.messageClass == .successResponse)

            // Eight same-size datagrams and a shorter last one; a burst read at once leaves as one write.
            var coalesced = 0
            for round in 0..<20 where coalesced == 0 {
                let payloads = (0..<9).map { index in
                    ByteBuffer(bytes: [UInt8](repeating: UInt8(round * 9 + index), count: index == 8 ? 37 : 120))
                }
                try await peer.sendBurst(payloads, to: relayed.socketAddress)
                for payload in payloads {
                    let received = try #require(await client.receive(), "round \(round)")
                    var expected = ByteBuffer()
                    ChannelData(channel: 0x4000, data: payload).encode(into: &expected, padded: false)
                    #expect(received == expected, "round \(round)")
                }
                coalesced = await server.relayStatistics().coalescedWrites
            }
            #expect(coalesced > 0, "no burst was read at once in 20 tries")

            // The other way: a client's burst of ChannelData reaches the peer datagram by datagram.
            let before = coalesced
            for round in 0..<20 where coalesced == before {
                let payloads = (0..<9).map { index in
                    ByteBuffer(bytes: [UInt8](repeating: UInt8(round * 9 + index), count: index == 8 ? 11 : 300))
                }
                try await client.sendBurst(payloads, channel: 0x4000)
                for payload in payloads {
                    let received = try #require(await peer.receiveEnvelope(), "round \(round)")
                    #expect(received.data == payload && TransportAddress(received.remoteAddress) == relayed)
                }
                coalesced = await server.relayStatistics().coalescedWrites
            }
            #expect(coalesced > before, "no client burst was read at once in 20 tries")
            await client.close()
            await peer.close()
        }
    }
}
