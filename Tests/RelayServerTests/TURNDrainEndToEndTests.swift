import Foundation
import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import TURN
import TURNClient
import Testing

/// A draining relay: new allocations go to the alternate server (300) or are refused (508); an allocation
/// made before keeps refreshing, binding channels and relaying.
@Suite("TURN while draining")
struct TURNDrainEndToEndTests {
    @Test(
        "a new Allocate gets 300 Try Alternate with ALTERNATE-SERVER, or 508 without one; the existing allocation relays",
        arguments: [true, false])
    func drain(withAlternate: Bool) async throws {
        var turn = TURNConfiguration.loopback()
        let alternate = TransportAddress(ip: IPAddress(parsing: "192.0.2.7")!, port: 3478)
        if withAlternate { turn.alternateServer = alternate }
        try await TURNRelayEndToEndTests.withRelay(turn) { server in
            let serverAddress = try #require(server.address(.udp))
            let before = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let relayed = try TURNRelayEndToEndTests.relayed(try await before.allocate())
            let peer = try await TestUDPSocket.bind()
            let peerAddress = try #require(peer.localAddress.flatMap(TransportAddress.init))

            await server.drain()

            let after = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let refused = try await after.request(.allocate, [.requestedTransport(17)])
            #expect(refused.type.messageClass == .errorResponse)
            if withAlternate {
                #expect(refused.errorCode?.code == 300)
                #expect(refused.attribute(.alternateServer) == .alternateServer(alternate))
            } else {
                #expect(refused.errorCode?.code == 508)
                #expect(refused.attribute(.alternateServer) == nil)
            }

            let refreshed = try await before.request(.refresh, [.lifetime(600)])
            #expect(refreshed.type.messageClass == .successResponse)
            let bound = try await before.request(
                .channelBind, [.channelNumber(0x4001), .xorPeerAddress(peerAddress)])
            #expect(bound.type.messageClass == .successResponse)
            try await before.send(ByteBuffer(string: "still relaying"), channel: 0x4001)
            #expect(try await peer.receive() == ByteBuffer(string: "still relaying"))
            try await peer.send(ByteBuffer(string: "back"), to: relayed.socketAddress)
            #expect(try await before.receive() != nil)
            #expect(await server.relayStatistics().allocations == 1)
            await before.close()
            await after.close()
            await peer.close()
        }
    }

    @Test("the members of a turn running when the drain began may still allocate; others are refused")
    func runningTurnsKeepAllocating() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let serverAddress = try #require(server.address(.udp))
            await server.drain(exempt: ["s1/0"])
            let now = UInt64(Date().timeIntervalSince1970)
            let secrets = try #require(TURNRESTSecrets(["north"]))
            let running = secrets.mint(subject: "s1/0/prover", ttl: 600, now: now)
            let later = secrets.mint(subject: "s1/1/prover", ttl: 600, now: now)
            let member = try await TURNTestClient(
                server: serverAddress, username: running.username, password: running.password)
            #expect(
                try await member.request(.allocate, [.requestedTransport(17)]).type.messageClass == .successResponse)
            let other = try await TURNTestClient(
                server: serverAddress, username: later.username, password: later.password)
            #expect(try await other.request(.allocate, [.requestedTransport(17)]).errorCode?.code == 508)
            await member.close()
            await other.close()
        }
    }
}
