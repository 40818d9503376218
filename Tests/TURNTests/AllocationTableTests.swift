import Crypto
import NIOCore
import STUN
import TURN
import Testing

/// The allocation machine with an injected clock: no sockets, every RFC 8656 rule as a table of inputs.
@Suite("Allocation table (RFC 8656)")
struct AllocationTableTests {
    let start = ContinuousClock.now
    let unixTime: UInt64 = 1_800_000_000
    let client = FiveTuple(
        client: TransportAddress(ip: .v4(0xC633_6401), port: 40000),
        server: TransportAddress(ip: .v4(0xC633_6402), port: 3478),
        transport: .udp)
    let relayed = TransportAddress(ip: .v4(0xC633_6402), port: 20000)
    let peer = TransportAddress(ip: .v4(0x0808_0808), port: 7000)
    let rest = TURNRESTSecrets(["north"])!

    func makeTable(limits: AllocationLimits = AllocationLimits()) -> AllocationTable {
        AllocationTable(
            authenticator: TURNAuthenticator(
                realm: "partyline", staticUsers: ["alice": "wonderland", "bob": "builder"], restSecrets: rest,
                nonces: NonceIssuer(key: SymmetricKey(data: Array("k".utf8)))),
            limits: limits)
    }

    /// A request signed as `user`, with a fresh nonce for `fiveTuple`'s client.
    func request(
        _ method: STUNMethod, _ attributes: [STUNAttribute], table: AllocationTable,
        as user: (String, String)? = ("alice", "wonderland"),
        from fiveTuple: FiveTuple? = nil, transactionID: TransactionID = .random()
    ) throws -> STUNMessageView {
        let origin = fiveTuple ?? client
        var all = attributes
        var signing: STUNSigning?
        if let (username, password) = user {
            all += [
                .username(username), .realm("partyline"),
                .nonce(table.authenticator.nonces.nonce(for: origin.client, now: unixTime)),
            ]
            let key = try #require(try STUNKey.longTerm(username: username, realm: "partyline", password: password))
            signing = STUNSigning(key: key)
        }
        let message = STUNMessage(
            type: STUNMessageType(method: method, messageClass: .request), transactionID: transactionID, attributes: all
        )
        return try STUNMessageView(datagram: message.encoded(signing: signing, fingerprint: true))
    }

    /// The single response among `actions`, decoded.
    func response(_ actions: [AllocationTable.Action]) throws -> STUNMessage {
        let replies = actions.compactMap { action -> ByteBuffer? in
            if case .toClient(_, let bytes) = action { bytes } else { nil }
        }
        try #require(replies.count == 1, "\(actions)")
        return try STUNMessage(datagram: replies[0])
    }

    /// Allocates for `user` on `fiveTuple` and returns the success response.
    @discardableResult
    func allocate(
        _ table: inout AllocationTable, as user: (String, String) = ("alice", "wonderland"),
        from fiveTuple: FiveTuple? = nil,
        relay: TransportAddress? = nil, transactionID: TransactionID = .random()
    ) throws -> STUNMessage {
        let view = try request(
            .allocate, [.requestedTransport(17)], table: table, as: user, from: fiveTuple, transactionID: transactionID)
        let actions = table.handle(view, from: fiveTuple ?? client, now: start, unixTime: unixTime)
        guard case .openRelay(let pending) = try #require(actions.first) else {
            return try response(actions)
        }
        return try response(table.relayOpened(pending, relayed: relay ?? relayed, now: start))
    }

    @Test("an unauthenticated Allocate gets 401; an authenticated one opens a relay and gets a signed success")
    func allocation() throws {
        var table = makeTable()
        let challenge = try response(
            table.handle(
                try request(.allocate, [.requestedTransport(17)], table: table, as: nil), from: client, now: start,
                unixTime: unixTime))
        #expect(challenge.errorCode?.code == 401)
        let success = try allocate(&table)
        #expect(success.type == STUNMessageType(method: .allocate, messageClass: .successResponse))
        #expect(success.attribute(.xorRelayedAddress) == .xorRelayedAddress(relayed))
        #expect(success.attribute(.lifetime) == .lifetime(600))
        #expect(success.xorMappedAddress == client.client)
        let key = try #require(try STUNKey.longTerm(username: "alice", realm: "partyline", password: "wonderland"))
        #expect(try STUNMessageView(datagram: success.encoded()).checkIntegrity(key: key) == .valid(.hmacSHA1))
    }

    @Test(
        "Allocate errors: 437 on a second Allocate, 400 without REQUESTED-TRANSPORT, 442 for SCTP, 441 for another user, 486, 508"
    )
    func allocateErrors() throws {
        var table = makeTable(
            limits: {
                var limits = AllocationLimits(); limits.maxAllocationsPerUser = 1; limits.maxAllocations = 2;
                return limits
            }())
        let id = TransactionID.random()
        try allocate(&table, transactionID: id)
        #expect(try allocate(&table, transactionID: id).type.messageClass == .successResponse)
        #expect(try allocate(&table).errorCode?.code == 437)
        let other = FiveTuple(
            client: TransportAddress(ip: .v4(0xC633_6403), port: 1), server: client.server, transport: .udp)
        func code(
            _ attributes: [STUNAttribute], from fiveTuple: FiveTuple,
            as user: (String, String) = ("alice", "wonderland")
        ) throws -> Int? {
            try response(
                table.handle(
                    try request(.allocate, attributes, table: table, as: user, from: fiveTuple), from: fiveTuple,
                    now: start, unixTime: unixTime)
            ).errorCode?.code
        }
        #expect(try code([], from: other) == 400)
        #expect(try code([.requestedTransport(132)], from: other) == 442)
        #expect(try code([.requestedTransport(6)], from: other) == 400, "TCP relaying over a UDP control connection")
        #expect(try code([.requestedTransport(17)], from: client, as: ("bob", "builder")) == 441)
        #expect(try code([.requestedTransport(17)], from: other) == 486)
        try allocate(&table, as: ("bob", "builder"), from: other, relay: TransportAddress(ip: relayed.ip, port: 20002))
        let third = FiveTuple(
            client: TransportAddress(ip: .v4(0xC633_6404), port: 1), server: client.server, transport: .udp)
        let carol = rest.mint(subject: "carol", ttl: 600, now: unixTime)
        #expect(try code([.requestedTransport(17)], from: third, as: (carol.username, carol.password)) == 508)
    }

    @Test("Refresh extends up to the maximum, LIFETIME 0 deletes, no allocation is 437")
    func refresh() throws {
        var table = makeTable()
        #expect(
            try response(
                table.handle(try request(.refresh, [], table: table), from: client, now: start, unixTime: unixTime)
            ).errorCode?.code == 437)
        try allocate(&table)
        let longer = try response(
            table.handle(
                try request(.refresh, [.lifetime(100_000)], table: table), from: client, now: start, unixTime: unixTime)
        )
        #expect(longer.attribute(.lifetime) == .lifetime(3600))
        let actions = table.handle(
            try request(.refresh, [.lifetime(0)], table: table), from: client, now: start, unixTime: unixTime)
        #expect(actions.contains { if case .closeRelay(let address) = $0 { address == relayed } else { false } })
        #expect(try response(actions).attribute(.lifetime) == .lifetime(0))
        #expect(table.allocations.isEmpty)
    }

    @Test(
        "CreatePermission: 403 toward loopback, private and metadata addresses, 443 across families, success otherwise")
    func permissions() throws {
        var table = makeTable()
        try allocate(&table)
        for refused in ["127.0.0.1", "10.0.0.1", "169.254.169.254"] {
            let peer = TransportAddress(ip: IPAddress(parsing: refused)!, port: 9)
            let reply = try response(
                table.handle(
                    try request(.createPermission, [.xorPeerAddress(peer)], table: table), from: client, now: start,
                    unixTime: unixTime))
            #expect(reply.errorCode?.code == 403, "\(refused)")
        }
        let v6 = TransportAddress(ip: IPAddress(parsing: "2001:4860::1")!, port: 9)
        #expect(
            try response(
                table.handle(
                    try request(.createPermission, [.xorPeerAddress(v6)], table: table), from: client, now: start,
                    unixTime: unixTime)
            ).errorCode?.code == 443)
        #expect(
            try response(
                table.handle(
                    try request(.createPermission, [], table: table), from: client, now: start, unixTime: unixTime)
            ).errorCode?.code == 400)
        let ok = try response(
            table.handle(
                try request(.createPermission, [.xorPeerAddress(peer)], table: table), from: client, now: start,
                unixTime: unixTime))
        #expect(ok.type.messageClass == .successResponse)
    }

    @Test(
        "Send indications need a permission; peer data comes back as a Data indication, then as ChannelData once bound")
    func relaying() throws {
        var table = makeTable()
        try allocate(&table)
        let payload = ByteBuffer(bytes: [1, 2, 3])
        let send = STUNMessage(
            type: STUNMessageType(method: .send, messageClass: .indication),
            attributes: [.xorPeerAddress(peer), .data(payload)])
        #expect(
            table.handle(try STUNMessageView(datagram: send.encoded()), from: client, now: start, unixTime: unixTime)
                .isEmpty)
        #expect(table.peerData(payload, from: peer, relay: relayed, now: start) == nil)
        _ = table.handle(
            try request(.createPermission, [.xorPeerAddress(peer)], table: table), from: client, now: start,
            unixTime: unixTime)
        guard
            case .toPeer(let relay, let target, let data) = try #require(
                table.handle(
                    try STUNMessageView(datagram: send.encoded()), from: client, now: start, unixTime: unixTime
                ).first)
        else {
            Issue.record("not relayed")
            return
        }
        #expect(relay == relayed && target == peer && data == payload)
        let dataIndication = table.peerData(payload, from: peer, relay: relayed, now: start)
        guard case .toClient(_, let indication) = try #require(dataIndication) else { return }
        let decoded = try STUNMessage(datagram: indication)
        #expect(decoded.type == STUNMessageType(method: .data, messageClass: .indication))
        #expect(decoded.attribute(.data) == .data(payload))
        _ = table.handle(
            try request(.channelBind, [.channelNumber(0x4001), .xorPeerAddress(peer)], table: table), from: client,
            now: start, unixTime: unixTime)
        let channelDataToClient = table.peerData(payload, from: peer, relay: relayed, now: start)
        guard case .toClient(_, let channelData) = try #require(channelDataToClient) else { return }
        #expect(try ChannelData(decoding: channelData) == ChannelData(channel: 0x4001, data: payload))
        let channelDataToPeer = table.channelData(ChannelData(channel: 0x4001, data: payload), from: client, now: start)
        guard case .toPeer(_, let channelPeer, _) = try #require(channelDataToPeer) else { return }
        #expect(channelPeer == peer)
        #expect(table.channelData(ChannelData(channel: 0x4002, data: payload), from: client, now: start) == nil)
    }

    @Test("allocations, permissions and channels expire with the clock")
    func expiry() throws {
        var table = makeTable()
        try allocate(&table)
        _ = table.handle(
            try request(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(peer)], table: table), from: client,
            now: start, unixTime: unixTime)
        #expect(table.peerData(ByteBuffer(), from: peer, relay: relayed, now: start + .seconds(299)) != nil)
        #expect(table.peerData(ByteBuffer(), from: peer, relay: relayed, now: start + .seconds(300)) == nil)
        #expect(table.expire(now: start + .seconds(599)).isEmpty)
        let closed = table.expire(now: start + .seconds(600))
        #expect(closed.count == 1)
        #expect(table.allocations.isEmpty)
    }

    @Test("revoke tears down a REST subject's allocations at once and refuses its credentials after")
    func revoke() throws {
        var table = makeTable()
        let credential = rest.mint(subject: "session-1/turn-2/member-3", ttl: 600, now: unixTime)
        try allocate(&table, as: (credential.username, credential.password))
        try allocate(
            &table,
            from: FiveTuple(
                client: TransportAddress(ip: .v4(0xC633_6405), port: 2), server: client.server, transport: .udp),
            relay: TransportAddress(ip: relayed.ip, port: 20004))
        let actions = table.revoke(subjectPrefix: "session-1/turn-2/", now: start)
        #expect(actions.count == 1)
        #expect(table.allocations.count == 1)
        let again = try response(
            table.handle(
                try request(
                    .allocate, [.requestedTransport(17)], table: table, as: (credential.username, credential.password)),
                from: client, now: start, unixTime: unixTime))
        #expect(again.errorCode?.code == 401)
    }

    @Test("a revoked prefix covers its own segments only, and is forgotten after a day")
    func revocationScope() throws {
        var table = makeTable()
        _ = table.revoke(subjectPrefix: "session-1/turn-2", now: start)
        func allocate(as subject: String) throws -> [AllocationTable.Action] {
            let credential = rest.mint(subject: subject, ttl: 600, now: unixTime)
            return table.handle(
                try request(
                    .allocate, [.requestedTransport(17)], table: table, as: (credential.username, credential.password)),
                from: client, now: start, unixTime: unixTime)
        }
        #expect(try response(allocate(as: "session-1/turn-2/member-3")).errorCode?.code == 401)
        #expect(try response(allocate(as: "session-1/turn-2")).errorCode?.code == 401)
        guard case .openRelay = try allocate(as: "session-1/turn-20/member-3").first else {
            Issue.record("turn-20 is not under turn-2")
            return
        }
        _ = table.expire(now: start + .seconds(3600))
        #expect(table.revokedSubjectPrefixes.count == 1)
        _ = table.expire(now: start + AllocationTable.revocationMemory)
        #expect(table.revokedSubjectPrefixes.isEmpty)
    }

    @Test(
        "an Allocate retransmitted while its relay opens opens nothing more; revoking meanwhile closes the new socket")
    func pendingAllocate() throws {
        var table = makeTable()
        let id = TransactionID.random()
        let first = table.handle(
            try request(.allocate, [.requestedTransport(17)], table: table, transactionID: id), from: client,
            now: start,
            unixTime: unixTime)
        guard case .openRelay(let pending) = try #require(first.first) else {
            Issue.record("no relay opened")
            return
        }
        let retransmitted = table.handle(
            try request(.allocate, [.requestedTransport(17)], table: table, transactionID: id), from: client,
            now: start,
            unixTime: unixTime)
        #expect(retransmitted.isEmpty)
        let other = table.handle(
            try request(.allocate, [.requestedTransport(17)], table: table), from: client, now: start,
            unixTime: unixTime)
        #expect(try response(other).errorCode?.code == 437)
        #expect(
            try response(table.relayOpened(pending, relayed: relayed, now: start)).type.messageClass == .successResponse
        )
        let late = table.relayOpened(pending, relayed: TransportAddress(ip: relayed.ip, port: 20010), now: start)
        #expect(late.count == 1)

        var revoking = makeTable()
        let credential = rest.mint(subject: "s/1/m", ttl: 600, now: unixTime)
        let opening = revoking.handle(
            try request(
                .allocate, [.requestedTransport(17)], table: revoking, as: (credential.username, credential.password)),
            from: client, now: start, unixTime: unixTime)
        guard case .openRelay(let revokedPending) = try #require(opening.first) else { return }
        _ = revoking.revoke(subjectPrefix: "s/1/", now: start)
        let closed = revoking.relayOpened(revokedPending, relayed: relayed, now: start)
        #expect(closed.count == 1)
        #expect(revoking.allocations.isEmpty)
    }

    @Test("an expired allocation is gone before the sweep: Refresh gets 437 and nothing is relayed")
    func expiredBeforeSweep() throws {
        var table = makeTable()
        let id = TransactionID.random()
        try allocate(&table, transactionID: id)
        _ = table.handle(
            try request(.createPermission, [.xorPeerAddress(peer)], table: table), from: client, now: start,
            unixTime: unixTime)
        let later = start + .seconds(100)
        let again = try response(
            table.handle(
                try request(.allocate, [.requestedTransport(17)], table: table, transactionID: id), from: client,
                now: later,
                unixTime: unixTime))
        #expect(again.attribute(.lifetime) == .lifetime(500))
        let expired = start + .seconds(600)
        #expect(table.peerData(ByteBuffer(bytes: [1]), from: peer, relay: relayed, now: expired) == nil)
        let refresh = try response(
            table.handle(try request(.refresh, [], table: table), from: client, now: expired, unixTime: unixTime))
        #expect(refresh.errorCode?.code == 437)
    }

    @Test("420 for unknown comprehension-required attributes; oversized peer datagrams are dropped, not trapped on")
    func unknownAttributesAndSizes() throws {
        var table = makeTable()
        try allocate(&table)
        let unknown = STUNAttribute.unknown(
            type: STUNAttributeType(rawValue: 0x7F7F), value: ByteBuffer(bytes: [1, 2, 3, 4]))
        let reply = try response(
            table.handle(try request(.refresh, [unknown], table: table), from: client, now: start, unixTime: unixTime))
        #expect(reply.errorCode?.code == 420)
        #expect(reply.attribute(.unknownAttributes) == .unknownAttributes([0x7F7F]))
        _ = table.handle(
            try request(.createPermission, [.xorPeerAddress(peer)], table: table), from: client, now: start,
            unixTime: unixTime)
        let huge = ByteBuffer(repeating: 7, count: AllocationTable.maxRelayedPayload + 1)
        #expect(table.peerData(huge, from: peer, relay: relayed, now: start) == nil)
        let largest = ByteBuffer(repeating: 7, count: AllocationTable.maxRelayedPayload)
        let largestIndication = table.peerData(largest, from: peer, relay: relayed, now: start)
        guard case .toClient(_, let indication) = try #require(largestIndication) else { return }
        #expect(try STUNMessage(datagram: indication).attribute(.data) == .data(largest))
    }
}
