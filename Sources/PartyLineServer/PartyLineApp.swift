import Hummingbird
import Logging
import RelayServer
import STUN
import ServiceLifecycle
import SignallingServer
import UnixSignals

/// The whole server process: every service PartyLine runs, started together and stopped gracefully on
/// SIGINT or SIGTERM.
public struct PartyLineApp: Sendable {
    public let configuration: PartyLineConfiguration

    public init(configuration: PartyLineConfiguration) {
        self.configuration = configuration
    }

    public func run() async throws {
        let logger = makeLogger("partyline")
        let relay = RelayServer(configuration: configuration.relay, logger: makeLogger("partyline.relay"))
        // Stream stop at the relay: a decided turn revokes its TURN credentials on every event loop.
        let hub = SignallingHub(
            configuration: configuration.signalling, logger: makeLogger("partyline.signalling"),
            revoke: { prefix in _ = await relay.revoke(subjectPrefix: prefix) })
        let http = HTTPApplication.make(
            hub: hub, host: configuration.http.host, port: configuration.http.port, logger: makeLogger("partyline.http")
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: relay), .init(service: http)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    private func makeLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = configuration.logLevel
        return logger
    }
}
