import Cluster
import ClusterStore
import CoordinatorServer
import CoordinatorStore
import Crypto
import Foundation
import HTTPHost
import Hummingbird
import Logging
import NIOCore
import RelayServer
import STUN
import ServerTLS
import ServiceLifecycle
import Signalling
import SignallingServer
import UnixSignals
import WebPage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The whole server process: every service PartyLine runs, started together and stopped gracefully on
/// SIGINT or SIGTERM.
public struct PartyLineApp: Sendable {
    public let configuration: PartyLineConfiguration
    /// Told the HTTP listener's port once it listens (tests ask for port 0).
    private let onHTTPRunning: @Sendable (_ port: Int) async -> Void
    private let stopRequests: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)
    private let logSink: LogSink

    /// `logSink` receives every log line (standard error by default).
    public init(
        configuration: PartyLineConfiguration, logSink: LogSink = .standardError,
        onHTTPRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logSink = logSink
        self.onHTTPRunning = onHTTPRunning
        stopRequests = AsyncStream<Void>.makeStream()
    }

    /// Does what SIGTERM does: the first call drains, a second stops at once.
    public func stop() { stopRequests.continuation.yield() }

    public func run() async throws {
        // swift-metrics goes to the Prometheus registry before anything makes its metrics.
        _ = MetricsExporter.registry
        let logger = makeLogger("partyline")
        let tls = try configuration.relay.certificate.map { try ReloadingTLSContext(files: $0) }
        let relay = RelayServer(configuration: configuration.relay, tls: tls, logger: makeLogger("partyline.relay"))
        let coordinator = try await openCoordinator()
        let keys: SigningKeys
        let attestationKey: Curve25519.Signing.PrivateKey
        do {
            keys = try await SigningKeys.load(
                folder: configuration.dataDirectory, configuredTokenSecret: configuration.signalling.tokenSecret,
                configuredLoginSecret: configuration.coordinator.loginSecret, replace: configuration.replaceKeys,
                fingerprints: .init(
                    recorded: { try await coordinator.secret(named: $0, candidate: $1) },
                    replace: { try await coordinator.replaceSecret(named: $0, value: $1) }),
                logger: logger)
            attestationKey = try await self.attestationKey(coordinator)
        } catch {
            await coordinator.closeUnstarted()
            throw error
        }
        var signalling = configuration.signalling
        signalling.tokenSecret = keys.joinTokenSecret
        var coordinatorConfiguration = configuration.coordinator
        coordinatorConfiguration.loginSecret = keys.loginSecret
        let now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
        // Party results flow from finished sessions to the runner, which is created once the hub exists.
        let finished = AsyncStream<SessionSummary>.makeStream()
        // Stream stop at the relay: a decided turn revokes its TURN credentials on every event loop.
        // Votes and decisions are committed before the group hears of them.
        let journal = SessionJournal(
            coordinator: coordinator, validity: configuration.coordinator.validity,
            logger: makeLogger("partyline.parties"), now: now)
        let hub = SignallingHub(
            configuration: signalling, evidenceKey: keys.evidenceKey, logger: makeLogger("partyline.signalling"),
            revoke: { prefix in _ = await relay.revoke(subjectPrefix: prefix) },
            journal: { await journal.record(session: $0, $1) },
            sessionFinished: { finished.continuation.yield($0) })
        let runner = PartyRunner(
            coordinator: coordinator, sessionHost: hub, validity: configuration.coordinator.validity,
            minimumPresent: configuration.coordinator.minimumPresent, logger: makeLogger("partyline.parties"),
            now: now)
        if let secret = configuration.coordinator.webhookSecret, !configuration.coordinator.webhookURLs.isEmpty {
            WebhookNotifier(
                urls: configuration.coordinator.webhookURLs, secret: secret, coordinator: coordinator,
                logger: makeLogger("partyline.webhooks"), now: now
            ).attach()
        }
        let api = CoordinatorAPI(
            coordinator: coordinator, configuration: coordinatorConfiguration,
            attestationKey: attestationKey, sessionHost: hub, now: now)
        let cluster = clusterNode(hub: hub, relay: relay)
        let site = loadSite(logger: logger)
        let exporter = MetricsExporter(relay: relay, hub: hub)
        let adoptStream: StreamAdopter? =
            configuration.httpSTUN ? { @Sendable channel, tls in try relay.adoptStream(channel, tls: tls) } : nil
        let http = HTTPHost.make(
            host: configuration.http.host, port: configuration.http.port, logger: makeLogger("partyline.http"),
            limits: configuration.httpLimits, tls: configuration.httpTLS ? tls : nil,
            adoptStream: adoptStream,
            webSocket: SignallingRoutes.webSocket(hub: hub),
            readiness: { await readiness(relay: relay, coordinator: coordinator, hub: hub) },
            addRoutes: { router in
                MetricsRoute.add(to: router, exporter: exporter, allowed: configuration.metricsAllowed)
                SignallingRoutes.add(to: router, hub: hub)
                CoordinatorRoutes.add(to: router, api: api)
                if let cluster {
                    ClusterRoute.add(
                        to: router, table: cluster.table, deadAfter: cluster.configuration.deadAfter,
                        adminKeys: configuration.coordinator.adminKeys)
                }
                if let site {
                    WebPageRoutes.add(
                        to: router, site: site, policy: WebPagePolicy(signallingURL: configuration.signalling.publicURL)
                    )
                }
            },
            services: [hub, coordinator, runner, PartyResults(summaries: finished.stream, runner: runner)],
            onServerRunning: onHTTPRunning)
        // SIGTERM and SIGINT go to the drain, which shuts the group down gracefully when it is done (or
        // cancels it on a second signal).
        let groupSlot = GroupSlot()
        let drainService = DrainService(
            hub: hub, relay: relay, timeout: configuration.drainTimeout, requests: stopRequests.stream,
            logger: logger, group: groupSlot)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(
                service: drainService, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .cancelGroup),
            .init(service: relay), .init(service: http), .init(service: MemoryTrimmer()),
        ]
        if let cluster { services.append(.init(service: cluster)) }
        if let tls {
            services.append(
                .init(
                    service: CertificateReloader(
                        context: tls, interval: configuration.tlsReloadInterval, logger: makeLogger("partyline.tls"))))
        }
        // The relay's listeners and TURN loops are up before the HTTP port (which hands STUN connections to
        // the relay) accepts anything.
        do {
            try await relay.start()
        } catch {
            await coordinator.closeUnstarted()
            throw error
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
        groupSlot.set(group)
        do {
            try await group.run()
        } catch is DrainService.Interrupted {
            logger.notice("stopped at once: a second signal during the drain")
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            // The relay names its own listeners (ListenError); a bare bind error is the HTTP server's.
            throw ListenError(address: configuration.http, transport: "http", reason: "\(error)")
        }
    }

    /// The heartbeat of this node in the cluster's table, when `cluster.nodeId` is set: its load is the
    /// hub's open sessions and members and the relay's allocations.
    private func clusterNode(hub: SignallingHub, relay: RelayServer) -> NodeHeartbeat? {
        guard let cluster = configuration.cluster, case .postgres(let url) = configuration.coordinator.database
        else { return nil }
        return NodeHeartbeat(
            table: NodeTable(url: url, logger: makeLogger("partyline.cluster")), configuration: cluster,
            load: {
                let statistics = hub.statistics()
                return NodeLoad(
                    sessions: (statistics.sessions["waiting"] ?? 0) + (statistics.sessions["running"] ?? 0),
                    members: statistics.webSocketsOpen, allocations: relay.allocationCount)
            },
            draining: { hub.isDraining }, logger: makeLogger("partyline.cluster"))
    }

    /// What keeps the node from taking new work: listeners not bound, storage not answering.
    private func readiness(relay: RelayServer, coordinator: LiveCoordinator, hub: SignallingHub) async -> [String] {
        var reasons: [String] = hub.isDraining ? ["draining"] : []
        if relay.listeners.isEmpty && !configuration.relay.udp.isEmpty { reasons.append("relay-not-listening") }
        if await !coordinator.isAvailable() { reasons.append("storage-unavailable") }
        return reasons
    }

    /// The party web page: `http.webRoot` if set, else the bundled one; without either the API runs alone.
    private func loadSite(logger: Logger) -> WebSite? {
        do {
            let site = try configuration.webRoot.map { try WebSite(directory: URL(fileURLWithPath: $0)) }
            return try site ?? WebSite.bundled()
        } catch {
            logger.error("the web page is not served: \(error)")
            return nil
        }
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

    /// The registry's attestation key, made once and kept in the database.
    private func attestationKey(_ coordinator: LiveCoordinator) async throws -> Curve25519.Signing.PrivateKey {
        let candidate = Curve25519.Signing.PrivateKey().rawRepresentation.base64EncodedString()
        let stored = try await coordinator.secret(named: "attestation-ed25519", candidate: candidate)
        guard let raw = Data(base64Encoded: stored) else {
            throw ConfigurationError("the stored attestation key is unreadable")
        }
        return try Curve25519.Signing.PrivateKey(rawRepresentation: raw)
    }

    /// A logger for one subsystem (`partyline.relay`), at its `log.levels` level or `log.level`.
    private func makeLogger(_ label: String) -> Logger {
        let level = configuration.subsystemLevels[StructuredLogHandler.subsystem(of: label)] ?? configuration.logLevel
        let (format, sink) = (configuration.logFormat, logSink)
        return Logger(label: label) { label in
            StructuredLogHandler(label: label, format: format, sink: sink, logLevel: level)
        }
    }
}
