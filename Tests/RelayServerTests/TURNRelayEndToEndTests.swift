import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import TURN
import Testing

/// The TURN relay over real loopback sockets: allocations, permissions, channels, data both ways.
@Suite("TURN relay over real sockets")
struct TURNRelayEndToEndTests {
    static func withRelay(
        _ turn: TURNConfiguration = .loopback(), io: UDPIO = .defaultForPlatform,
        _ body: (RelayServer) async throws -> Void
    ) async throws {
        var configuration = RelayServerConfiguration.loopback()
        configuration.turn = turn
        configuration.udpIO = io
        try await RelayServer.withRunning(configuration, body)
    }

    static func relayed(_ response: STUNMessage) throws -> TransportAddress {
        guard case .xorRelayedAddress(let address) = try #require(response.attribute(.xorRelayedAddress)) else {
            throw TURNTestClientError.refused(response)
        }
        return address
    }

    @Test(
        "Allocate, Send and Data indications, ChannelBind and ChannelData both ways, Refresh 0 ends it",
        arguments: UDPIO.allCases)
    func relayUDP(io: UDPIO) async throws {
        try await Self.withRelay(io: io) { server in
            let serverAddress = try #require(server.address(.udp))
            let client = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let peer = try await TestUDPSocket.bind()
            let peerSocket = try #require(peer.localAddress)
            let peerAddress = try #require(TransportAddress(peerSocket))

            let allocation = try await client.allocate()
            let relayed = try Self.relayed(allocation)
            #expect(relayed.ip == IPAddress(parsing: "127.0.0.1"))
            #expect((20000...29999).contains(relayed.port))
            #expect(allocation.attribute(.lifetime) == .lifetime(600))
            let clientSocket = try #require(client.socket.localAddress)
            #expect(allocation.xorMappedAddress == TransportAddress(clientSocket))

            let permission = try await client.request(.createPermission, [.xorPeerAddress(peerAddress)])
            #expect(permission.type.messageClass == .successResponse)

            try await client.send(ByteBuffer(string: "via send"), to: peerAddress)
            let atPeer = try await peer.receiveEnvelope()
            #expect(atPeer?.data == ByteBuffer(string: "via send"))
            #expect(atPeer.flatMap { TransportAddress($0.remoteAddress) } == relayed)

            try await peer.send(ByteBuffer(string: "data back"), to: relayed.socketAddress)
            let indicationBytes = try #require(await client.receive())
            let indication = try STUNMessage(datagram: indicationBytes)
            #expect(indication.type == STUNMessageType(method: .data, messageClass: .indication))
            #expect(indication.attribute(.xorPeerAddress) == .xorPeerAddress(peerAddress))
            #expect(indication.attribute(.data) == .data(ByteBuffer(string: "data back")))

            let bind = try await client.request(.channelBind, [.channelNumber(0x4001), .xorPeerAddress(peerAddress)])
            #expect(bind.type.messageClass == .successResponse)
            try await client.send(ByteBuffer(string: "on channel"), channel: 0x4001)
            #expect(try await peer.receive() == ByteBuffer(string: "on channel"))
            try await peer.send(ByteBuffer(string: "channel back"), to: relayed.socketAddress)
            let channelData = try #require(await client.receive())
            #expect(channelData.getInteger(at: 0, as: UInt16.self) == 0x4001)
            #expect(channelData.getInteger(at: 2, as: UInt16.self) == 12)
            #expect(channelData.getString(at: 4, length: 12) == "channel back")

            let statistics = await server.relayStatistics()
            #expect(statistics.allocations == 1)
            #expect(statistics.toPeers == 2 && statistics.toClients >= 2)

            let deleted = try await client.request(.refresh, [.lifetime(0)])
            #expect(deleted.type.messageClass == .successResponse)
            try #require(await eventually { await server.relayStatistics().allocations == 0 })
            try await peer.send(ByteBuffer(string: "too late"), to: relayed.socketAddress)
            #expect(try await client.receive(timeout: .milliseconds(200)) == nil)
            await client.close()
            await peer.close()
        }
    }
}

extension TURNRelayEndToEndTests {
    @Test("a dual allocation relays IPv4 and IPv6; ADDITIONAL-ADDRESS-FAMILY names IPv6", arguments: UDPIO.allCases)
    func dualAllocation(io: UDPIO) async throws {
        try await Self.withRelay(io: io) { server in
            let serverAddress = try #require(server.address(.udp))
            let client = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let response = try await client.allocate([.additionalAddressFamily(.ipv6)])
            let relayed = response.attributes.compactMap { attribute -> TransportAddress? in
                if case .xorRelayedAddress(let address) = attribute { address } else { nil }
            }
            #expect(relayed.map(\.ip.family) == [.ipv4, .ipv6])
            #expect(response.attribute(.addressErrorCode) == nil)
            let peers = [try await TestUDPSocket.bind(), try await TestUDPSocket.bind(ipv6: true)]
            for (peer, relay) in zip(peers, relayed) {
                let peerSocket = try #require(peer.localAddress)
                let peerAddress = try #require(TransportAddress(peerSocket))
                let permitted = try await client.request(.createPermission, [.xorPeerAddress(peerAddress)])
                #expect(permitted.type.messageClass == .successResponse)
                try await client.send(ByteBuffer(string: "hello \(relay.ip.family)"), to: peerAddress)
                let received = try #require(await peer.receiveEnvelope())
                #expect(TransportAddress(received.remoteAddress) == relay)
                await peer.close()
            }
            await client.close()
        }
    }

    @Test(
        "EVEN-PORT with R reserves the next port; RESERVATION-TOKEN allocates it; a spent token gets 508",
        arguments: UDPIO.allCases)
    func evenPortReservation(io: UDPIO) async throws {
        try await Self.withRelay(io: io) { server in
            let serverAddress = try #require(server.address(.udp))
            let rtp = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let first = try await rtp.allocate([.evenPort(reserveNextPort: true)])
            let even = try Self.relayed(first)
            #expect(even.port % 2 == 0)
            guard case .reservationToken(let token) = try #require(first.attribute(.reservationToken)) else {
                Issue.record("no RESERVATION-TOKEN")
                return
            }
            let rtcp = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let second = try await rtcp.allocate([.reservationToken(token)])
            #expect(try Self.relayed(second).port == even.port + 1)
            let again = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let spent = try await again.request(.allocate, [.requestedTransport(17), .reservationToken(token)])
            #expect(spent.errorCode?.code == 508)
            let combined = try await again.request(
                .allocate, [.requestedTransport(17), .reservationToken(token), .evenPort(reserveNextPort: false)])
            #expect(combined.errorCode?.code == 400)
            for client in [rtp, rtcp, again] { await client.close() }
        }
    }
}

extension TURNRelayEndToEndTests {
    @Test("behind a 1:1 NAT the relay binds one address and advertises another", arguments: UDPIO.allCases)
    func advertisedRelayAddress(io: UDPIO) async throws {
        var turn = TURNConfiguration.loopback()
        let wildcard = try #require(IPAddress(parsing: "0.0.0.0"))
        let advertised = try #require(IPAddress(parsing: "127.0.0.2"))
        turn.relayAddresses = [wildcard]
        turn.advertisedRelayAddresses = [wildcard: advertised]
        try await Self.withRelay(turn, io: io) { server in
            let serverAddress = try #require(server.address(.udp))
            let client = try await TURNTestClient(server: serverAddress, username: "alice", password: "wonderland")
            let relayed = try Self.relayed(try await client.allocate())
            #expect(relayed.ip == advertised)
            let peer = try await TestUDPSocket.bind()
            let peerSocket = try #require(peer.localAddress)
            let peerAddress = try #require(TransportAddress(peerSocket))
            let permitted = try await client.request(.createPermission, [.xorPeerAddress(peerAddress)])
            #expect(permitted.type.messageClass == .successResponse)
            try await peer.send(ByteBuffer(string: "to the public address"), to: relayed.socketAddress)
            let indicationBytes = try #require(await client.receive())
            let indication = try STUNMessage(datagram: indicationBytes)
            #expect(indication.attribute(.data) == .data(ByteBuffer(string: "to the public address")))
            await client.close()
            await peer.close()
        }
    }
}
