import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import ServerTLS
import TURN
import TURNClient
import Testing

/// `partyline probe turn:` over real sockets: two allocations relaying to each other through the server.
@Suite("TURN relay check (probe) over real sockets")
struct TURNRelayCheckTests {
    static func url(_ server: RelayServer, _ transport: RelayTransport, ipv6: Bool = false) throws -> STUNServerURL {
        let address = try #require(server.address(transport, ipv6: ipv6))
        return STUNServerURL(
            scheme: transport == .tls ? .turns : .turn, host: ipv6 ? "::1" : "127.0.0.1", port: address.port!,
            transport: transport == .udp ? .udp : transport == .tcp ? .tcp : .tls)
    }

    @Test(
        "both relays carry every packet",
        arguments: [
            (RelayTransport.udp, TURNDataPath.channel, false), (.udp, .indication, true), (.tcp, .channel, false),
            (.tls, .indication, false),
        ])
    func relays(transport: RelayTransport, dataPath: TURNDataPath, ipv6: Bool) async throws {
        var configuration = RelayServerConfiguration.loopback(certificate: STUNServerEndToEndTests.certificate)
        configuration.turn = .loopback()
        try await RelayServer.withRunning(configuration) { server in
            let before = await server.relayStatistics()
            let result = try await TURNRelayCheck.run(
                try Self.url(server, transport, ipv6: ipv6), username: "alice", password: "wonderland",
                dataPath: dataPath, packets: 4,
                trust: .certificateFile(STUNServerEndToEndTests.certificate.certificateChainPath))
            #expect(result.sent == 4 && result.roundTrips.count == 4)
            #expect(result.relayed.count == 2 && result.relayed[0] != result.relayed[1])
            #expect(
                result.relayed.allSatisfy { $0.ip.family == .ipv4 },
                "RFC 8656 §7.1: IPv4 unless another family is asked for")
            #expect(result.mapped?.ip.description == (ipv6 ? "::1" : "127.0.0.1"))
            let after = await server.relayStatistics()
            #expect(
                after.toPeers - before.toPeers >= 8 && after.toClients - before.toClients >= 8, "each packet, both ways"
            )
            #expect(after.allocations == 0, "the check released both allocations")
        }
    }

    @Test("a wrong password is refused with 401; a peer the policy denies with 403, and nothing is left allocated")
    func refusals() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let url = try Self.url(server, .udp)
            do {
                _ = try await TURNRelayCheck.run(url, username: "alice", password: "wrong", timeout: .seconds(3))
                Issue.record("a wrong password relayed")
            } catch let TURNRelayCheckError.refused(reason) {
                #expect(reason.contains("401"))
            }
        }
        // Over UDP nothing closes with the client: the failed check must delete its two allocations itself.
        try await TURNRelayEndToEndTests.withRelay(.loopback(allowLoopbackPeers: false)) { server in
            do {
                _ = try await TURNRelayCheck.run(
                    try Self.url(server, .udp), username: "alice", password: "wonderland", timeout: .seconds(3))
                Issue.record("a denied peer was relayed")
            } catch let TURNRelayCheckError.refused(reason) {
                #expect(reason.contains("ChannelBind") && reason.contains("403"))
            }
            #expect(await server.relayStatistics().allocations == 0, "the refused check released what it made")
        }
    }
}
