import Foundation
import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import TURN
import TURNClient
import Testing

/// Every TURN error code, provoked over real loopback sockets.
@Suite("TURN error responses over real sockets")
struct TURNErrorEndToEndTests {
    static let publicPeer = TransportAddress(ip: IPAddress(parsing: "8.8.8.8")!, port: 9)

    func client(_ server: RelayServer, user: String = "alice", password: String = "wonderland") async throws
        -> TURNTestClient
    {
        try await TURNTestClient(server: #require(server.address(.udp)), username: user, password: password)
    }

    @Test("401 with REALM, NONCE and PASSWORD-ALGORITHMS; 401 again for a wrong password")
    func unauthorized() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let client = try await client(server, password: "wrong")
            let challenge = try await client.exchange(.allocate, [.requestedTransport(17)])
            #expect(challenge.errorCode?.code == 401)
            #expect(challenge.realm == "partyline.test" && challenge.nonce != nil)
            #expect(challenge.attribute(.passwordAlgorithms) != nil)
            let refused = try await client.request(.allocate, [.requestedTransport(17)])
            #expect(refused.errorCode?.code == 401)
            await client.close()
        }
    }

    @Test("438 with a fresh nonce for a stale one; the retry succeeds")
    func staleNonce() async throws {
        var turn = TURNConfiguration.loopback()
        turn.nonceLifetime = 1
        try await TURNRelayEndToEndTests.withRelay(turn) { server in
            let client = try await client(server)
            try await client.allocate()
            let firstNonce = client.authentication.nonce
            try await Task.sleep(for: .milliseconds(2100))
            let stale = try await client.exchange(.refresh, [.lifetime(600)])
            #expect(stale.errorCode?.code == 438)
            #expect(stale.nonce != nil && stale.nonce != firstNonce)
            let refreshed = try await client.request(.refresh, [.lifetime(600)])
            #expect(refreshed.type.messageClass == .successResponse)
            await client.close()
        }
    }

    @Test("400, 420, 437, 441 and 442 on Allocate and Refresh")
    func requestErrors() async throws {
        try await TURNRelayEndToEndTests.withRelay { server in
            let client = try await client(server)
            let noTransport = try await client.request(.allocate, [])
            #expect(noTransport.errorCode?.code == 400)
            let sctp = try await client.request(.allocate, [.requestedTransport(132)])
            #expect(sctp.errorCode?.code == 442)
            let tcpOverUDP = try await client.request(.allocate, [.requestedTransport(6)])
            #expect(tcpOverUDP.errorCode?.code == 400)
            let unknown = try await client.request(
                .allocate,
                [.requestedTransport(17), .unknown(type: STUNAttributeType(rawValue: 0x0031), value: .init())])
            #expect(unknown.errorCode?.code == 420)
            #expect(unknown.attribute(.unknownAttributes) == .unknownAttributes([0x0031]))
            let noAllocation = try await client.request(.refresh, [.lifetime(600)])
            #expect(noAllocation.errorCode?.code == 437)
            try await client.allocate()
            let again = try await client.request(.allocate, [.requestedTransport(17)])
            #expect(again.errorCode?.code == 437)
            client.authenticate(as: "bob", password: "builder")
            let otherUser = try await client.request(.refresh, [.lifetime(600)])
            #expect(otherUser.errorCode?.code == 441)
            await client.close()
        }
    }

    @Test("440 for a family without a relay address, 443 for a peer of the other family")
    func families() async throws {
        var turn = TURNConfiguration.loopback()
        turn.relayAddresses = [IPAddress(parsing: "127.0.0.1")!]
        try await TURNRelayEndToEndTests.withRelay(turn) { server in
            let client = try await client(server)
            let ipv6 = try await client.request(.allocate, [.requestedTransport(17), .requestedAddressFamily(.ipv6)])
            #expect(ipv6.errorCode?.code == 440)
            let dual = try await client.allocate([.additionalAddressFamily(.ipv6)])
            #expect(
                dual.attribute(.addressErrorCode) == .addressErrorCode(family: .ipv6, error: .addressFamilyNotSupported)
            )
            let v6Peer = TransportAddress(ip: IPAddress(parsing: "2001:4860:4860::8888")!, port: 9)
            let mismatch = try await client.request(.createPermission, [.xorPeerAddress(v6Peer)])
            #expect(mismatch.errorCode?.code == 443)
            await client.close()
        }
    }

    @Test("486 beyond the per-user quota, 508 beyond the total")
    func quotas() async throws {
        var limits = AllocationLimits()
        limits.maxAllocationsPerUser = 1
        limits.maxAllocations = 2
        try await TURNRelayEndToEndTests.withRelay(.loopback(limits: limits)) { server in
            let first = try await client(server)
            try await first.allocate()
            let second = try await client(server)
            let quota = try await second.request(.allocate, [.requestedTransport(17)])
            #expect(quota.errorCode?.code == 486)
            let bob = try await client(server, user: "bob", password: "builder")
            try await bob.allocate()
            let credential = try #require(TURNRESTSecrets(["north"])).mint(
                subject: "party-1/member-3", ttl: 600, now: UInt64(Date().timeIntervalSince1970))
            let carol = try await client(server, user: credential.username, password: credential.password)
            let capacity = try await carol.request(.allocate, [.requestedTransport(17)])
            #expect(capacity.errorCode?.code == 508)
            for client in [first, second, bob, carol] { await client.close() }
        }
    }

    @Test(
        "403 toward loopback, private, link-local and IPv4-mapped peers under the default policy",
        arguments: ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1"])
    func forbiddenPeers(peer: String) async throws {
        try await TURNRelayEndToEndTests.withRelay(.loopback(allowLoopbackPeers: false)) { server in
            let client = try await client(server)
            let ip = try #require(IPAddress(parsing: peer))
            try await client.allocate(ip.family == .ipv6 ? [.requestedAddressFamily(.ipv6)] : [])
            let target = TransportAddress(ip: ip, port: 5000)
            let permission = try await client.request(.createPermission, [.xorPeerAddress(target)])
            #expect(permission.errorCode?.code == 403)
            let channel = try await client.request(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(target)])
            #expect(channel.errorCode?.code == 403)
            let allowed = try await client.request(
                .createPermission, [.xorPeerAddress(ip.family == .ipv6 ? Self.publicV6 : Self.publicPeer)])
            #expect(allowed.type.messageClass == .successResponse)
            await client.close()
        }
    }

    static let publicV6 = TransportAddress(ip: IPAddress(parsing: "2001:4860:4860::8888")!, port: 9)
}
