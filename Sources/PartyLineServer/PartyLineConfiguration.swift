import Cluster
import Configuration
import CoordinatorServer
import CoordinatorStore
import Foundation
import HTTPHost
import Logging
import RelayServer
import STUN
import ServerTLS
import SignallingServer
import SystemPackage
import TURN

/// The server's one configuration model. Sources, highest priority first: command-line flags
/// (`--stun-listen-udp 127.0.0.1:3478`), environment variables (`PARTYLINE_STUN_LISTEN_UDP=...`), the YAML
/// file (`stun: listen: udp: [...]`), then the embedded defaults. See `config/partyline.example.yaml`.
public struct PartyLineConfiguration: Sendable {
    public var relay: RelayServerConfiguration
    /// Where the HTTP server (JSON API and signalling WebSocket) listens.
    public var http: ListenAddress
    /// A folder served as the party web page instead of the bundled one (`http.webRoot`), for operators who
    /// translate or restyle it.
    public var webRoot: String?
    /// Origins the page may connect to besides its own and `signalling.publicURL`'s (`http.connectSources`):
    /// the other nodes of a cluster, whose WebSockets a member's group may run on (`wss://*.party.example`).
    public var connectSources: [String] = []
    /// Caps and the request-head timeout of HTTP connections.
    public var httpLimits = HTTPConnectionLimits()
    /// Whether the HTTP listener serves TLS (HTTPS, WSS) with `tls.certificate` (`http.tls`).
    public var httpTLS = false
    /// Whether the HTTP listener also answers STUN and TURN, told apart from HTTP by the first byte
    /// (`http.stun`): with `http.tls` one port 443 serves `turns:`, `https:` and `wss:`.
    public var httpSTUN = false
    /// How log lines are written (`log.format`: logfmt or json).
    public var logFormat = LogFormat.logfmt
    /// Levels of single subsystems over `log.level` (`log.levels`: `relay=debug,signalling=warning`): relay,
    /// signalling, http, coordinator, parties, cluster, tls, webhooks, server.
    public var subsystemLevels: [String: Logger.Level] = [:]
    /// The folder of the process's own files: signing keys under `keys/` (`data.directory`).
    public var dataDirectory = "data"
    /// Records the key files present (making missing ones) as the keys from now on, instead of refusing to
    /// start when they differ from what the database recorded (`keys.replace`).
    public var replaceKeys = false
    /// How long a drain (SIGTERM) lets running turns finish before the process stops anyway
    /// (`shutdown.drainTimeout`): a turn's no-show grace and deadline, with room to spare.
    public var drainTimeout: Duration = .seconds(150)
    /// Client networks `/metrics` answers (`metrics.allowed`); others get 404. Loopback and private networks
    /// by default, where a Prometheus server scrapes from.
    public var metricsAllowed: [IPNetwork] = PartyLineConfiguration.privateNetworks
    /// Loopback, RFC 1918, IPv6 unique-local and link-local networks.
    public static let privateNetworks = [
        "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10",
    ].map { IPNetwork(parsing: $0)! }
    /// How often the certificate files are checked for a change (`tls.reloadInterval`, 0 never); SIGHUP
    /// reloads them at once.
    public var tlsReloadInterval: Duration = .seconds(10)
    public var signalling: SignallingConfiguration
    public var coordinator: CoordinatorConfiguration
    /// This process as a node of a cluster on one PostgreSQL (`cluster.*`); nil for a single node.
    public var cluster: ClusterConfiguration?
    public var logLevel: Logger.Level

    /// The HTTP server's default port.
    public static let defaultHTTPPort = 8080

    public init(
        relay: RelayServerConfiguration = RelayServerConfiguration(),
        http: ListenAddress = ListenAddress(host: "0.0.0.0", port: defaultHTTPPort),
        signalling: SignallingConfiguration = SignallingConfiguration(),
        coordinator: CoordinatorConfiguration = CoordinatorConfiguration(), logLevel: Logger.Level = .info,
        webRoot: String? = nil
    ) {
        self.webRoot = webRoot
        self.relay = relay
        self.http = http
        self.signalling = signalling
        self.coordinator = coordinator
        self.logLevel = logLevel
    }

    /// Reads every key from the layered sources. A flag or file key the model does not read is an error
    /// naming it; an unknown `PARTYLINE_*` environment variable goes to `warnings`.
    public static func load(
        configFile: String?, flags: [String], environment: [String: String],
        warnings: (String) -> Void = { _ in }
    ) async throws -> PartyLineConfiguration {
        try await check(configFile: configFile, flags: flags, environment: environment, warnings: warnings)
            .configuration
    }

    /// What `partyline config check` prints: every key a flag, the environment or the file set, with its
    /// value (secrets masked) and its source, in key order.
    public struct EffectiveSetting: Sendable, Hashable {
        public let key: String
        public let value: String
        public let source: String
    }

    /// Loads the configuration as ``load(configFile:flags:environment:warnings:)`` does, and also returns the
    /// settings that differ from the embedded defaults and where each came from.
    public static func check(
        configFile: String?, flags: [String], environment: [String: String],
        warnings: (String) -> Void = { _ in }
    ) async throws -> (configuration: PartyLineConfiguration, settings: [EffectiveSetting]) {
        var providers: [any ConfigProvider] = [
            CommandLineArgumentsProvider(arguments: ["partyline"] + flags),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "partyline"),
        ]
        if let configFile {
            providers.append(try await FileProvider<YAMLSnapshot>(filePath: .init(configFile)))
        }
        let known = UnknownSettings.KnownKeys()
        let configuration = try PartyLineConfiguration(
            reader: ConfigReader(providers: providers, accessReporter: known))
        var unknown = UnknownSettings.unknownFlags(flags, known: known.all).map { "flag \($0)" }
        if let configFile {
            let text = try String(contentsOfFile: configFile, encoding: .utf8)
            unknown += try UnknownSettings.unknownFileKeys(yaml: text, known: known.all).map {
                "key \($0) in \(configFile)"
            }
        }
        guard unknown.isEmpty else {
            throw ConfigurationError(
                "unknown setting\(unknown.count == 1 ? "" : "s"): \(unknown.joined(separator: ", ")) "
                    + "(every key is in config/partyline.example.yaml)")
        }
        for name in UnknownSettings.unknownEnvironment(environment, known: known.all) {
            warnings("environment variable \(name) matches no configuration key; ignored")
        }
        let settings = known.set.map {
            EffectiveSetting(key: $0.key, value: $0.setting.value, source: $0.setting.source)
        }
        return (configuration, settings)
    }

    /// Reads every key from `reader`, falling back to the embedded defaults.
    public init(reader: ConfigReader) throws {
        let defaults = RelayServerConfiguration()
        func addresses(_ key: ConfigKey, _ fallback: [ListenAddress], port: Int) throws -> [ListenAddress] {
            guard let texts = reader.stringArray(forKey: key) else { return fallback }
            return try texts.flatMap { $0.split(separator: ",") }.map {
                try ListenAddress.listenAddress(String($0), defaultPort: port)
            }
        }
        var relay = RelayServerConfiguration(
            udp: try addresses("stun.listen.udp", defaults.udp, port: RelayServerConfiguration.defaultPort),
            tcp: try addresses("stun.listen.tcp", defaults.tcp, port: RelayServerConfiguration.defaultPort),
            tls: try addresses("stun.listen.tls", defaults.tls, port: RelayServerConfiguration.defaultTLSPort),
            software: reader.string(forKey: "stun.software", default: defaults.software),
            udpSocketsPerAddress: reader.int(
                forKey: "stun.udp.socketsPerAddress", default: defaults.udpSocketsPerAddress),
            udpVectorReadCount: reader.int(forKey: "stun.udp.vectorReadCount", default: defaults.udpVectorReadCount),
            udpReceiveBufferBytes: reader.int(
                forKey: "stun.udp.receiveBufferBytes", default: defaults.udpReceiveBufferBytes)
        )
        let io = reader.string(forKey: "stun.udp.io", default: defaults.udpIO.rawValue)
        guard let udpIO = UDPIO(rawValue: io) else {
            throw ConfigurationError("stun.udp.io must be one of \(UDPIO.allCases.map(\.rawValue)), not \(io)")
        }
        relay.udpIO = udpIO
        let certificate = reader.string(forKey: "tls.certificate")
        let privateKey = reader.string(forKey: "tls.privateKey", isSecret: true)
        switch (certificate, privateKey) {
        case (let certificate?, let privateKey?):
            relay.certificate = TLSCertificateFiles(certificateChainPath: certificate, privateKeyPath: privateKey)
        case (nil, nil):
            break
        default:
            throw ConfigurationError("tls.certificate and tls.privateKey must be given together")
        }
        relay.turn = try TURNConfiguration(reader: reader)
        relay.streams = try StreamLimits(reader: reader)
        let level = reader.string(forKey: "log.level", default: "info")
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ConfigurationError("unknown log.level '\(level)'")
        }
        let http = try ListenAddress.listenAddress(
            reader.string(forKey: "http.listen", default: "0.0.0.0:\(Self.defaultHTTPPort)"),
            defaultPort: Self.defaultHTTPPort)
        relay.protectedAddresses = [http]
        let httpTLS = reader.bool(forKey: "http.tls", default: false)
        if httpTLS && relay.certificate == nil {
            throw ConfigurationError("http.tls needs tls.certificate and tls.privateKey")
        }
        let signalling = try SignallingConfiguration(
            reader: reader, turnSecrets: relay.turn?.restSecrets ?? [],
            defaultPublicURL: "\(httpTLS ? "wss" : "ws")://127.0.0.1:\(http.port)/v1/signal")
        self.init(
            relay: relay, http: http, signalling: signalling,
            coordinator: try CoordinatorConfiguration(
                reader: reader, dataDirectory: reader.string(forKey: "data.directory", default: "data")),
            logLevel: logLevel, webRoot: reader.string(forKey: "http.webRoot"))
        httpLimits = try HTTPConnectionLimits(reader: reader)
        connectSources = (reader.stringArray(forKey: "http.connectSources") ?? []).flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for source in connectSources
        where !(source.hasPrefix("wss://") || source.hasPrefix("ws://"))
            || source.contains(where: { " ;'\"".contains($0) })
        {
            throw ConfigurationError(
                "http.connectSources: '\(source)' is not a ws:// or wss:// source (e.g. wss://*.party.example)")
        }
        self.httpTLS = httpTLS
        httpSTUN = reader.bool(forKey: "http.stun", default: false)
        let reload = reader.int(forKey: "tls.reloadInterval", default: 10)
        guard reload >= 0 else { throw ConfigurationError("tls.reloadInterval must be 0 or more seconds") }
        tlsReloadInterval = .seconds(reload)
        let format = reader.string(forKey: "log.format", default: LogFormat.logfmt.rawValue)
        guard let logFormat = LogFormat(rawValue: format) else {
            throw ConfigurationError("unknown log.format '\(format)': logfmt or json")
        }
        self.logFormat = logFormat
        for entry in (reader.stringArray(forKey: "log.levels") ?? []).flatMap({ $0.split(separator: ",") }) {
            let parts = entry.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let level = Logger.Level(rawValue: parts[1]) else {
                throw ConfigurationError("log.levels: '\(entry)' is not SUBSYSTEM=LEVEL (e.g. relay=debug)")
            }
            subsystemLevels[parts[0]] = level
        }
        dataDirectory = reader.string(forKey: "data.directory", default: "data")
        replaceKeys = reader.bool(forKey: "keys.replace", default: false)
        let drainSeconds = reader.double(forKey: "shutdown.drainTimeout", default: 150)
        guard drainSeconds >= 0 else { throw ConfigurationError("shutdown.drainTimeout must be 0 or more seconds") }
        drainTimeout = .milliseconds(Int64(drainSeconds * 1000))
        metricsAllowed = try reader.networks("metrics.allowed") ?? metricsAllowed
        let httpHost = ["0.0.0.0", "::", ""].contains(http.host) ? "127.0.0.1" : http.host
        let hostPart = httpHost.contains(":") ? "[\(httpHost)]" : httpHost
        let sharedDatabase =
            switch coordinator.database {
            case .postgres: true
            case .sqlite: false
            }
        cluster = try ClusterConfiguration(
            reader: reader, defaultHTTPURL: "\(httpTLS ? "https" : "http")://\(hostPart):\(http.port)",
            defaultSignallingURL: signalling.publicURL, defaultTURNURLs: signalling.turnURLs,
            hasSharedDatabase: sharedDatabase)
    }
}
