import ServiceLifecycle
import Signalling

/// Hands the hub's finished sessions to the party runner, one at a time, until shutdown.
public struct PartyResults: Service {
    let summaries: AsyncStream<SessionSummary>
    let runner: PartyRunner

    public init(summaries: AsyncStream<SessionSummary>, runner: PartyRunner) {
        self.summaries = summaries
        self.runner = runner
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await summary in summaries { await runner.sessionFinished(summary) }
        }
    }
}
