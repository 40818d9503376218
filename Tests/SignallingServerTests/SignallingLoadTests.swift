import LoadGenerator
import SignallingServer
import Testing

@Suite("partyline load signalling against a loopback server", .timeLimit(.minutes(1)))
struct SignallingLoadTests {
    @Test("every member connects and reaches a turn; every timestamped message is relayed and measured")
    func loadRun() async throws {
        try await SignallingHarness.withRunning { harness in
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
