import NIOCore
import STUN
import TURN
import Testing

/// Per-IP request limits and the per-allocation bandwidth cap, with an injected clock.
extension AllocationTableTests {
    @Test("a client IP over its request limit gets no answer until its bucket refills; other IPs are unaffected")
    func requestRateLimit() throws {
        var limits = AllocationLimits()
        limits.requestsPerSecondPerIP = 2
        limits.requestBurstPerIP = 3
        var table = makeTable(limits: limits)
        func answers(_ fiveTuple: FiveTuple, at now: ContinuousClock.Instant) throws -> Bool {
            let view = try request(.refresh, [.lifetime(600)], table: table, from: fiveTuple)
            return !table.handle(view, from: fiveTuple, now: now, unixTime: unixTime).isEmpty
        }
        for _ in 0..<3 { #expect(try answers(client, at: start)) }
        #expect(try !answers(client, at: start), "the fourth request in the same instant is over the burst")
        let neighbour = FiveTuple(
            client: TransportAddress(ip: .v4(0xC633_6499), port: 1), server: client.server, transport: .udp)
        #expect(try answers(neighbour, at: start))
        #expect(try answers(client, at: start + .milliseconds(500)), "one token back after half a second")
        #expect(try !answers(client, at: start + .milliseconds(500)))
        #expect(table.rateLimiter?.refused == 2)
        _ = table.expire(now: start + .seconds(10))
        #expect(table.rateLimiter?.tracked == 0, "idle clients are forgotten")
    }

    @Test("the bandwidth cap drops relayed data beyond its bytes per second, both directions together")
    func bandwidthCap() throws {
        var limits = AllocationLimits()
        limits.maxBytesPerSecondPerAllocation = 100_000
        var table = makeTable(limits: limits)
        try allocate(&table)
        _ = table.handle(
            try request(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(peer)], table: table), from: client,
            now: start, unixTime: unixTime)
        let packet = ByteBuffer(repeating: 1, count: 40_000)
        let out = ChannelData(channel: 0x4000, data: packet)
        #expect(table.channelData(out, from: client, now: start) != nil)
        #expect(table.peerData(packet, from: peer, relay: relayed, now: start) != nil)
        #expect(table.channelData(out, from: client, now: start) == nil, "120,000 bytes exceed the burst")
        #expect(table.peerData(packet, from: peer, relay: relayed, now: start + .milliseconds(500)) != nil)
    }
}
