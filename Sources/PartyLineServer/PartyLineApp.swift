import CoordinatorServer
import CoordinatorStore
import Foundation
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
        let coordinator = try await openCoordinator()
        let api = CoordinatorAPI(coordinator: coordinator, configuration: configuration.coordinator)
        let http = HTTPApplication.make(
            hub: hub, host: configuration.http.host, port: configuration.http.port,
            logger: makeLogger("partyline.http"),
            addRoutes: { CoordinatorRoutes.add(to: $0, api: api) }, services: [coordinator])
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: relay), .init(service: http)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// Opens the coordinator's database (creating the SQLite file's directory) and loads its state.
    private func openCoordinator() async throws -> LiveCoordinator {
        let logger = makeLogger("partyline.coordinator")
        if case .sqlite(let path) = configuration.coordinator.database {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let store = try await SQLCoordinatorStore.open(configuration.coordinator.database, logger: logger)
        return try await LiveCoordinator(store: store, logger: logger)
    }

    private func makeLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = configuration.logLevel
        return logger
    }
}
