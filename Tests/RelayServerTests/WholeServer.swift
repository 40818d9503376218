import Foundation
import PartyLineServer
import Testing

/// Suites that start the whole server in-process; they run one at a time, since each is a full node (relay,
/// HTTP, coordinator, party runner) and the timing tests beside them must not starve.
@Suite(.serialized) struct WholeServerTests {}

/// The whole server on loopback for one test.
enum WholeServer {
    /// Runs PartyLine with `flags` until `body` returns (given the HTTP port), then stops it as SIGTERM
    /// would and waits for it to end; rethrows a failed start. Any body error stops it too.
    static func run(
        _ flags: [String], logSink: LogSink = .standardError,
        configure: (inout PartyLineConfiguration) -> Void = { _ in }, _ body: (Int) async throws -> Void
    ) async throws {
        var configuration = try await PartyLineConfiguration.load(configFile: nil, flags: flags, environment: [:])
        configure(&configuration)
        let (ports, reportPort) = AsyncStream<Int>.makeStream()
        let app = PartyLineApp(
            configuration: configuration, logSink: logSink, onHTTPRunning: { reportPort.yield($0) })
        let run = Task {
            defer { reportPort.finish() }
            try await app.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await run.value
            return
        }
        do {
            try await body(port)
        } catch {
            app.stop()
            _ = try? await run.value
            throw error
        }
        app.stop()
        try await run.value
    }

    /// A fresh folder for a test's database and keys, removed by the caller.
    static func folder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("partyline-\(name)-\(UUID())")
    }
}
