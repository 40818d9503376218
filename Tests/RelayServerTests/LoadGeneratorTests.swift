import LoadGenerator
import PartyLineTesting
import RelayServer
import Testing

@Suite("Load generator against a loopback server")
struct LoadGeneratorTests {
    @Test("a short bounded run gets every request answered and counts them on both sides")
    func boundedRun() async throws {
        let server = RelayServer(configuration: .loopback())
        try await server.start()
        let generator = STUNLoadGenerator(
            target: try #require(server.address(.udp)), duration: .milliseconds(500), inflight: 16, sockets: 4,
            timeout: .milliseconds(500))
        let report = try await generator.run()
        await server.stop()
        #expect(report.received > 100)
        #expect(report.lost == 0)
        #expect(report.invalid == 0)
        #expect(report.sent == report.received)
        #expect(server.statistics()[.udp].answered == report.received)
        #expect(report.table(title: "t").contains("responses/s"))
    }
}
