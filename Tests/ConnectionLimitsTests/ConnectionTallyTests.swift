import ConnectionLimits
import NIOCore
import Testing

struct ConnectionTallyTests {
    let one = ConnectionSource(ipv4: (198, 51, 100, 7))
    let two = ConnectionSource(ipv4: (198, 51, 100, 8))

    @Test func perSourceCapRefusesOnlyThatSource() {
        var tally = ConnectionTally(limits: .init(total: 0, perSource: 2))
        #expect(tally.open(from: one) == nil)
        #expect(tally.open(from: one) == nil)
        #expect(tally.open(from: one) == .perSource)
        #expect(tally.open(from: two) == nil)
        #expect(tally.count(from: one) == 2)
        #expect(tally.total == 3)
        tally.close(from: one)
        #expect(tally.open(from: one) == nil)
    }

    @Test func totalCapRefusesEveryone() {
        var tally = ConnectionTally(limits: .init(total: 2, perSource: 0))
        #expect(tally.open(from: one) == nil)
        #expect(tally.open(from: two) == nil)
        #expect(tally.open(from: ConnectionSource(ipv4: (203, 0, 113, 1))) == .total)
        tally.close(from: two)
        #expect(tally.total == 1)
        #expect(tally.open(from: two) == nil)
    }

    @Test func closingWhatWasNeverOpenedChangesNothing() {
        var tally = ConnectionTally(limits: .init(total: 1, perSource: 1))
        tally.close(from: one)
        #expect(tally.total == 0)
        #expect(tally.open(from: one) == nil)
        #expect(tally.open(from: one) == .total)
    }

    @Test func ipv6CountsPerSlash64AndMappedAddressesAsIPv4() throws {
        let a = try #require(ConnectionSource(SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1)))
        let b = try #require(ConnectionSource(SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 2)))
        let c = try #require(ConnectionSource(SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)))
        #expect(a == b)
        #expect(a != c)
        #expect(a.description == "2001:db8:1:2::/64")
        let mapped = try #require(ConnectionSource(SocketAddress(ipAddress: "::ffff:198.51.100.7", port: 1)))
        #expect(mapped == one)
        #expect(mapped.description == "198.51.100.7")
        let v4 = try #require(ConnectionSource(SocketAddress(ipAddress: "198.51.100.7", port: 9)))
        #expect(v4 == one)
    }
}
