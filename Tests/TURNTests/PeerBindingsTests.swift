import STUN
import TURN
import Testing

@Suite("Permissions and channel bindings with an injected clock")
struct PeerBindingsTests {
    let start = ContinuousClock.now
    let peerA = TransportAddress(ip: .v4(0x0808_0808), port: 5000)
    let peerB = TransportAddress(ip: .v4(0x0101_0101), port: 6000)

    @Test("a permission lasts 5 minutes, is per IP, and is refreshed by CreatePermission")
    func permissions() {
        var bindings = PeerBindings()
        bindings.installPermission(for: peerA.ip, now: start)
        #expect(bindings.hasPermission(for: peerA.ip, now: start + .seconds(299)))
        #expect(!bindings.hasPermission(for: peerA.ip, now: start + .seconds(300)))
        #expect(!bindings.hasPermission(for: peerB.ip, now: start))
        bindings.installPermission(for: peerA.ip, now: start + .seconds(200))
        #expect(bindings.hasPermission(for: peerA.ip, now: start + .seconds(499)))
        bindings.expire(now: start + .seconds(500))
        #expect(bindings.counts(now: start + .seconds(500)).permissions == 0)
    }

    @Test("a channel lasts 10 minutes, refreshes its permission, and maps both ways")
    func channelLifetime() throws {
        var bindings = PeerBindings()
        try bindings.bind(channel: 0x4000, to: peerA, now: start)
        #expect(bindings.peer(onChannel: 0x4000, now: start + .seconds(599)) == peerA)
        #expect(bindings.channel(forPeer: peerA, now: start + .seconds(599)) == 0x4000)
        #expect(bindings.hasPermission(for: peerA.ip, now: start + .seconds(299)))
        #expect(bindings.peer(onChannel: 0x4000, now: start + .seconds(600)) == nil)
        try bindings.bind(channel: 0x4000, to: peerA, now: start + .seconds(500))
        #expect(bindings.peer(onChannel: 0x4000, now: start + .seconds(1099)) == peerA)
    }

    @Test("rebinding rules (RFC 8656 §12.2), including 5 minutes of reuse delay after expiry")
    func rebinding() throws {
        var bindings = PeerBindings()
        #expect(throws: PeerBindings.ChannelBindError.invalidChannelNumber) {
            try bindings.bind(channel: 0x3FFF, to: peerA, now: start)
        }
        #expect(throws: PeerBindings.ChannelBindError.invalidChannelNumber) {
            try bindings.bind(channel: 0x5000, to: peerA, now: start)
        }
        try bindings.bind(channel: 0x4000, to: peerA, now: start)
        #expect(throws: PeerBindings.ChannelBindError.channelBoundToAnotherPeer) {
            try bindings.bind(channel: 0x4000, to: peerB, now: start)
        }
        #expect(throws: PeerBindings.ChannelBindError.peerBoundToAnotherChannel) {
            try bindings.bind(channel: 0x4001, to: peerA, now: start)
        }
        let expiredButCooling = start + .seconds(600 + 299)
        bindings.expire(now: expiredButCooling)
        #expect(throws: PeerBindings.ChannelBindError.channelBoundToAnotherPeer) {
            try bindings.bind(channel: 0x4000, to: peerB, now: expiredButCooling)
        }
        let free = start + .seconds(600 + 300)
        bindings.expire(now: free)
        try bindings.bind(channel: 0x4000, to: peerB, now: free)
        try bindings.bind(channel: 0x4001, to: peerA, now: free)
        #expect(bindings.peer(onChannel: 0x4000, now: free) == peerB)
        #expect(bindings.channel(forPeer: peerA, now: free) == 0x4001)
        #expect(bindings.counts(now: free).channels == 2)
    }
}
