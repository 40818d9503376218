import LoadGenerator
import SignallingServer
import Testing

@Suite("partyline load signalling against a loopback server", .timeLimit(.minutes(1)))
struct SignallingLoadTests {
    @Test("every member connects and reaches a turn; every timestamped message is relayed and measured")
    func loadRun() async throws {
        // Each session starts once its five members joined; the join window only matters when they are late,
        // as on a loaded machine, where a short window would start a session before its batch connects.
        var configuration = SignallingHarness.configuration()
        configuration.joinWindow = .seconds(60)
        try await SignallingHarness.withRunning(configuration) { harness in
            let generator = SignallingLoadGenerator(
                baseURL: "http://127.0.0.1:\(harness.port)", apiKey: SignallingHarness.apiKey, members: 20,
                rate: 20, duration: .seconds(1), connectBatch: 8, signallingURL: harness.signallingURL)
            let result = try await generator.run { _ in }
            #expect(result.sessions == 4 && result.connected == 20, "20 members: groups of 5, 5, 5, 5")
            #expect(result.report.sent > 0 && result.report.received == result.report.sent)
            #expect(result.errors.isEmpty, "\(result.errors)")
        }
    }
}
