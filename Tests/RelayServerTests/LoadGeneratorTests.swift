import LoadGenerator
import PartyLineTesting
import RelayServer
import TURN
import TURNClient
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
        // How many is the benchmark's business (a loaded CI machine answers fewer); that all are answered is this test's.
        #expect(report.received > 0)
        #expect(report.lost == 0)
        #expect(report.invalid == 0)
        #expect(report.sent == report.received)
        #expect(server.statistics()[.udp].answered == report.received)
        #expect(report.table(title: "t").contains("responses/s"))
    }
}

extension LoadGeneratorTests {
    @Test(
        "a short TURN run over UDP, TCP or TLS, in each send mode, relays every packet through the relay and back",
        arguments: [
            (
                TURNLoadGenerator.Transport.udp, TURNDataPath.channel, nil as Int?,
                TURNLoadGenerator.SendMode.perDatagram
            ),
            (.udp, .channel, nil, .sendmmsg), (.udp, .channel, nil, .gso), (.tcp, .indication, nil, .perDatagram),
            (.udp, .indication, 100, .sendmmsg), (.tls, .channel, nil, .sendmmsg),
        ])
    func turnRun(
        transport: TURNLoadGenerator.Transport, mode: TURNDataPath, rate: Int?, sendMode: TURNLoadGenerator.SendMode
    ) async throws {
        var configuration = RelayServerConfiguration.loopback(certificate: STUNServerEndToEndTests.certificate)
        configuration.turn = .loopback()
        let server = RelayServer(configuration: configuration)
        try await server.start()
        let listener = try #require(RelayTransport(rawValue: transport.rawValue))
        let generator = TURNLoadGenerator(
            target: try #require(server.address(listener)), transport: transport, dataPath: mode,
            sendMode: sendMode, allocations: 4, payloadSize: 200, rate: rate, window: 4, duration: .milliseconds(500),
            username: "alice",
            password: "wonderland", timeout: .milliseconds(500))
        let report = try await generator.run()
        let relay = await server.relayStatistics()
        await server.stop()
        #expect(relay.allocations == 0, "the load tool returned before the relay confirmed every release")
        #expect(report.data.received > 20)
        #expect(report.data.lost == 0 && report.data.invalid == 0)
        #expect(report.data.sent == report.data.received)
        #expect(relay.toPeers == report.data.sent)
        #expect(report.table(title: "t").contains("allocations"))
    }
}
