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
import Shared
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
        let storage = try await openStorage()
        let coordinator = storage.coordinator
        let keys: SigningKeys
        let attestationKey: Curve25519.Signing.PrivateKey
        let clusterKey: String?
        do {
            (keys, clusterKey) = try await loadKeys(storage, logger: logger)
            attestationKey = try await self.attestationKey(storage)
        } catch {
            await storage.close()
            throw error
        }
        var signalling = configuration.signalling
        signalling.tokenSecret = keys.joinTokenSecret
        // The nodes of a cluster set sessions up on each other with the cluster's key.
        if let clusterKey { signalling.apiKeys.append(clusterKey) }
        var coordinatorConfiguration = configuration.coordinator
        coordinatorConfiguration.loginSecret = keys.loginSecret
        let now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
        // Party results flow from finished sessions to the runner, which is created once the hub exists.
        let finished = AsyncStream<SessionSummary>.makeStream()
        // Stream stop at the relay: a decided turn revokes its TURN credentials on every event loop.
        // Votes and decisions are committed before the group hears of them.
        let cluster = clusterParts(coordinator: coordinator, clusterKey: clusterKey)
        var forward: SessionJournal.Forward?
        if let records = cluster?.records {
            forward = { session, record in try await records.send(session: session, record: record) }
        }
        let journal = SessionJournal(
            coordinator: coordinator, validity: configuration.coordinator.validity,
            logger: makeLogger("partyline.parties"), forward: forward, now: now)
        let hub = SignallingHub(
            configuration: signalling, evidenceKey: keys.evidenceKey, logger: makeLogger("partyline.signalling"),
            revoke: { prefix in
                // The session waits for its own relay only; the other relays hear of it through the database,
                // which must not hold the session up while it is slow or away.
                _ = await relay.revoke(subjectPrefix: prefix)
                guard let cluster else { return }
                Task {
                    do {
                        try await cluster.revocations.publish(
                            subjectPrefix: prefix, origin: cluster.configuration.nodeID)
                    } catch {
                        logger.error(
                            "revocation not published to the cluster",
                            metadata: ["subjectPrefix": "\(prefix)", "error": "\(error)"])
                    }
                }
            },
            journal: { await journal.record(session: $0, $1) },
            sessionFinished: { finished.continuation.yield($0) })
        let clusterHost = cluster.map { cluster in
            ClusterSessionHost(
                local: hub, selfID: cluster.configuration.nodeID, table: cluster.table, nodes: cluster.nodes,
                clusterKey: cluster.key, finished: { finished.continuation.yield($0) })
        }
        let sessionHost: any SessionHost = clusterHost ?? hub
        let runner = PartyRunner(
            coordinator: coordinator, sessionHost: sessionHost, validity: configuration.coordinator.validity,
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
            attestationKey: attestationKey, sessionHost: sessionHost, now: now)
        let heartbeat = cluster.map { makeHeartbeat($0, hub: hub, relay: relay, coordinator: coordinator) }
        let site = loadSite(logger: logger)
        let exporter = MetricsExporter(relay: relay, hub: hub)
        let adoptStream: StreamAdopter? =
            configuration.httpSTUN ? { @Sendable channel, tls in try relay.adoptStream(channel, tls: tls) } : nil
        let http = HTTPHost.make(
            host: configuration.http.host, port: configuration.http.port, logger: makeLogger("partyline.http"),
            limits: configuration.httpLimits, tls: configuration.httpTLS ? tls : nil,
            adoptStream: adoptStream,
            webSocket: SignallingRoutes.webSocket(hub: hub),
            readiness: { await readiness(relay: relay, storage: storage, hub: hub) },
            addRoutes: { router in
                MetricsRoute.add(to: router, exporter: exporter, allowed: configuration.metricsAllowed)
                SignallingRoutes.add(to: router, hub: hub)
                RevocationRoute.add(to: router, adminKeys: configuration.coordinator.adminKeys) { prefix in
                    try await revokeEverywhere(prefix, relay: relay, cluster: cluster)
                }
                if let cluster {
                    CoordinatorRoutes.add(to: router.group().add(middleware: cluster.forwarding), api: api)
                    ClusterRoute.add(
                        to: router, table: cluster.table, deadAfter: cluster.configuration.deadAfter,
                        adminKeys: configuration.coordinator.adminKeys)
                    SessionRecordRoute.add(
                        to: router, clusterKey: cluster.key, journal: journal, isHolding: { coordinator.isHolding })
                } else {
                    CoordinatorRoutes.add(to: router, api: api)
                }
                if let site {
                    WebPageRoutes.add(
                        to: router, site: site, policy: pagePolicy()
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
        if let cluster, let heartbeat {
            services.append(.init(service: heartbeat))
            if cluster.configuration.roles.contains(.relay) {
                services.append(
                    .init(
                        service: RevocationFollower(
                            feed: cluster.revocations, relay: relay, nodeID: cluster.configuration.nodeID,
                            logger: makeLogger("partyline.cluster"))))
            }
            if cluster.configuration.roles.contains(.coordinator), case .postgres = configuration.coordinator.database {
                services.append(
                    .init(
                        service: CoordinatorElection(
                            coordinator: coordinator, database: configuration.coordinator.database,
                            poll: Self.electionPoll,
                            tookOver: {
                                await clusterHost?.preload()
                                try? await heartbeat.beat(tookOver: true)
                            },
                            logger: makeLogger("partyline.cluster"))))
            }
        }
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
            await storage.close()
            await cluster?.close()
            throw error
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
        groupSlot.set(group)
        let ended: Result<Void, any Error>
        do {
            try await group.run()
            ended = .success(())
        } catch {
            ended = .failure(error)
        }
        // The services are done: the connections they shared close last.
        try? await storage.shared?.close()
        await cluster?.close()
        do {
            try ended.get()
        } catch is DrainService.Interrupted {
            logger.notice("stopped at once: a second signal during the drain")
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            // The relay names its own listeners (ListenError); a bare bind error is the HTTP server's.
            throw ListenError(address: configuration.http, transport: "http", reason: "\(error)")
        }
    }

    /// How often a standing-by node asks for the coordinator's lock.
    static let electionPoll = Duration.milliseconds(250)

    /// What this process needs as a node of a cluster (`cluster.nodeId` set): the cluster's table, where the
    /// coordinator is, the forwarding of its API and of session records to it.
    private struct ClusterParts {
        let configuration: ClusterConfiguration
        let table: NodeTable
        let nodes: ClusterDirectory
        let key: String
        let forwarding: CoordinatorForwarding
        let records: SessionRecordForwarder
        let revocations: RevocationFeed

        func close() async {
            await revocations.close()
            await table.close()
        }
    }

    /// Revokes TURN subjects starting with `prefix` at this node's relay and, on a node of a cluster,
    /// publishes the revocation to every other relay; throws when it could not be published.
    private func revokeEverywhere(
        _ prefix: String, relay: RelayServer, cluster: ClusterParts?
    ) async throws -> (closed: Int, cluster: Bool) {
        let closed = await relay.revoke(subjectPrefix: prefix)
        guard let cluster else { return (closed, false) }
        do {
            try await cluster.revocations.publish(subjectPrefix: prefix, origin: cluster.configuration.nodeID)
        } catch {
            throw APIError(.serviceUnavailable, "cluster-unavailable", "revoked here; not published to the cluster")
        }
        return (closed, true)
    }

    private func clusterParts(coordinator: LiveCoordinator, clusterKey: String?) -> ClusterParts? {
        guard let cluster = configuration.cluster, let clusterKey,
            case .postgres(let url) = configuration.coordinator.database
        else { return nil }
        let table = NodeTable(url: url, logger: makeLogger("partyline.cluster"))
        // One read of the nodes' table serves forwarding and placement for half a second at most (or one
        // heartbeat, if shorter).
        let nodes = ClusterDirectory(
            table: table, deadAfter: cluster.deadAfter, maximumAge: min(cluster.heartbeatInterval, .milliseconds(500)))
        return ClusterParts(
            configuration: cluster, table: table, nodes: nodes, key: clusterKey,
            forwarding: CoordinatorForwarding(
                isHolding: { coordinator.isHolding }, nodes: nodes, selfID: cluster.nodeID, clusterKey: clusterKey),
            records: SessionRecordForwarder(nodes: nodes, clusterKey: clusterKey),
            revocations: RevocationFeed(url: url, logger: makeLogger("partyline.cluster")))
    }

    /// The heartbeat of this node in the cluster's table: its load is the hub's open sessions and members
    /// and the relay's allocations.
    private func makeHeartbeat(
        _ cluster: ClusterParts, hub: SignallingHub, relay: RelayServer, coordinator: LiveCoordinator
    ) -> NodeHeartbeat {
        NodeHeartbeat(
            table: cluster.table, configuration: cluster.configuration,
            load: {
                let statistics = hub.statistics()
                return NodeLoad(
                    sessions: (statistics.sessions["waiting"] ?? 0) + (statistics.sessions["running"] ?? 0),
                    members: statistics.webSocketsOpen, allocations: relay.allocationCount)
            },
            draining: { hub.isDraining }, holdsCoordinator: { coordinator.isHolding },
            logger: makeLogger("partyline.cluster"))
    }

    /// What keeps the node from taking new work: listeners not bound, storage not answering.
    /// On a node of a cluster, storage is the shared connection: a node standing by is ready.
    private func readiness(relay: RelayServer, storage: Storage, hub: SignallingHub) async -> [String] {
        var reasons: [String] = hub.isDraining ? ["draining"] : []
        if relay.listeners.isEmpty && !configuration.relay.udp.isEmpty { reasons.append("relay-not-listening") }
        if let shared = storage.shared {
            // The shared connection is opened again after PostgreSQL restarts (it holds no lock).
            try? await shared.reconnectIfLost()
            if (try? await shared.ping()) == nil { reasons.append("storage-unavailable") }
        } else if await !storage.coordinator.isAvailable() {
            reasons.append("storage-unavailable")
        }
        return reasons
    }

    /// The page's security policy: it may connect to its own origin, the signalling URL's and
    /// `http.connectSources` (a cluster's other nodes).
    private func pagePolicy() -> WebPagePolicy {
        var policy = WebPagePolicy(signallingURL: configuration.signalling.publicURL)
        policy.connectOrigins += configuration.connectSources
        return policy
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

    /// The coordinator and where the process's keys are kept.
    private struct Storage {
        let coordinator: LiveCoordinator
        /// On a node of a cluster: a connection without the coordinator's lock, for the keys every node
        /// shares and for readiness (the coordinator itself stands by until the election hands it the lock).
        let shared: SQLCoordinatorStore?

        func secret(named name: String, candidate: String) async throws -> String {
            if let shared { return try await shared.secret(named: name, candidate: candidate) }
            return try await coordinator.secret(named: name, candidate: candidate)
        }

        func close() async {
            await coordinator.closeUnstarted()
            try? await shared?.close()
        }
    }

    /// Opens the coordinator's database (creating the SQLite file's directory) and loads its state; a node of
    /// a cluster only opens a shared connection (running the migrations the database lacks) and stands by.
    private func openStorage() async throws -> Storage {
        let logger = makeLogger("partyline.coordinator")
        let database = configuration.coordinator.database
        if configuration.cluster != nil, case .postgres = database {
            let shared = try await SQLCoordinatorStore.open(database, logger: logger, access: .shared)
            return Storage(coordinator: .standby(logger: logger), shared: shared)
        }
        if case .sqlite(let path) = database {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let store = try await SQLCoordinatorStore.open(database, logger: logger)
        return Storage(coordinator: try await LiveCoordinator(store: store, logger: logger), shared: nil)
    }

    /// The signing keys, and on a node of a cluster the key nodes show each other when forwarding.
    private func loadKeys(_ storage: Storage, logger: Logger) async throws -> (SigningKeys, clusterKey: String?) {
        let stored: @Sendable (String, String) async throws -> String = {
            try await storage.secret(named: $0, candidate: $1)
        }
        guard storage.shared != nil else {
            let coordinator = storage.coordinator
            let keys = try await SigningKeys.load(
                folder: configuration.dataDirectory, configuredTokenSecret: configuration.signalling.tokenSecret,
                configuredLoginSecret: configuration.coordinator.loginSecret, replace: configuration.replaceKeys,
                fingerprints: .init(
                    recorded: stored, replace: { try await coordinator.replaceSecret(named: $0, value: $1) }),
                logger: logger)
            return (keys, nil)
        }
        let keys = try await SigningKeys.shared(
            configuredTokenSecret: configuration.signalling.tokenSecret,
            configuredLoginSecret: configuration.coordinator.loginSecret, stored: stored)
        let candidate = Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        let clusterKey = try await stored("cluster/forwarding", candidate)
        return (keys, clusterKey)
    }

    /// The registry's attestation key, made once and kept in the database.
    private func attestationKey(_ storage: Storage) async throws -> Curve25519.Signing.PrivateKey {
        let candidate = Curve25519.Signing.PrivateKey().rawRepresentation.base64EncodedString()
        let stored = try await storage.secret(named: "attestation-ed25519", candidate: candidate)
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
