import Logging
import RelayServer
import ServiceLifecycle
import UnixSignals

/// The whole server process: every service PartyLine runs, started together and stopped gracefully on
/// SIGINT or SIGTERM.
public struct PartyLineApp: Sendable {
    public let configuration: PartyLineConfiguration

    public init(configuration: PartyLineConfiguration) {
        self.configuration = configuration
    }

    public func run() async throws {
        var logger = Logger(label: "partyline")
        logger.logLevel = configuration.logLevel
        var relayLogger = Logger(label: "partyline.relay")
        relayLogger.logLevel = configuration.logLevel
        let relay = RelayServer(configuration: configuration.relay, logger: relayLogger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: relay)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
