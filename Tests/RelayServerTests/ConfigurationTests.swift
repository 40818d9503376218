import CoordinatorServer
import CoordinatorStore
import Foundation
import Logging
import PartyLineServer
import PartyLineTesting
import RelayServer
import STUN
import Signalling
import SignallingServer
import TURN
import TURNClient
import Testing

@Suite("Configuration model and address parsing")
struct ConfigurationTests {
    @Test("no file, no environment, no flags: the embedded defaults")
    func defaults() async throws {
        let configuration = try await PartyLineConfiguration.load(configFile: nil, flags: [], environment: [:])
        #expect(configuration.relay.udp.map(\.description) == ["0.0.0.0:3478", "[::]:3478"])
        #expect(configuration.relay.tls.map(\.description) == ["0.0.0.0:5349", "[::]:5349"])
        #expect(configuration.relay.certificate == nil)
        #expect(configuration.logLevel == .info)
        #expect(configuration.coordinator.database == .sqlite(path: "data/partyline.sqlite"))
        let moved = try await PartyLineConfiguration.load(
            configFile: nil, flags: ["--data-directory", "/var/lib/partyline"], environment: [:])
        #expect(moved.coordinator.database == .sqlite(path: "/var/lib/partyline/partyline.sqlite"))
        let pinned = try await PartyLineConfiguration.load(
            configFile: nil,
            flags: ["--data-directory", "/srv/p", "--coordinator-database-sqlite-path", "/db/p.sqlite"],
            environment: [:])
        #expect(pinned.coordinator.database == .sqlite(path: "/db/p.sqlite"))
    }

    @Test("the example file loads; signalling keys come from it and the environment")
    func exampleAndSignalling() async throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/partyline.example.yaml")
        let configuration = try await PartyLineConfiguration.load(
            configFile: example.path, flags: ["--http-listen", "127.0.0.1:9090"],
            environment: [
                "PARTYLINE_SIGNALLING_API_KEYS": "k1,k2", "PARTYLINE_TURN_SECRETS": "s1",
                "PARTYLINE_SIGNALLING_TURN_DEADLINE": "60",
            ])
        let signalling = configuration.signalling
        #expect(configuration.http.description == "127.0.0.1:9090")
        #expect(signalling.apiKeys == ["k1", "k2"] && signalling.turnSecrets == ["s1"])
        #expect(signalling.session.turnDeadline == .seconds(60) && signalling.session.noShowGrace == .seconds(20))
        #expect(signalling.session.prompts.count == 6 && signalling.limits.requestsPerSecond == 0.5)
        #expect(signalling.publicURL == "ws://127.0.0.1:9090/v1/signal")
        #expect(signalling.turnURLs.count == 2 && signalling.heartbeat == .seconds(10))
        let defaults = try await PartyLineConfiguration.load(configFile: nil, flags: [], environment: [:])
        #expect(defaults.http.description == "0.0.0.0:8080" && defaults.signalling.apiKeys.isEmpty)
        #expect(defaults.webRoot == nil && configuration.webRoot == nil)
        let custom = try await PartyLineConfiguration.load(
            configFile: nil, flags: [], environment: ["PARTYLINE_HTTP_WEB_ROOT": "/srv/site"])
        #expect(custom.webRoot == "/srv/site")
    }

    @Test("flags override the environment, which overrides the file")
    func layering() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("partyline-\(UUID()).yaml")
        try """
        stun:
          software: from-file
          listen:
            udp: ["127.0.0.1:4000"]
            tcp: ["127.0.0.1:4001"]
        log:
          level: debug
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try await PartyLineConfiguration.load(
            configFile: file.path, flags: ["--stun-listen-udp", "[::1]:5000"],
            environment: ["PARTYLINE_STUN_LISTEN_UDP": "127.0.0.1:6000", "PARTYLINE_STUN_SOFTWARE": "from-env"])
        #expect(configuration.relay.udp.map(\.description) == ["[::1]:5000"])
        #expect(configuration.relay.tcp.map(\.description) == ["127.0.0.1:4001"])
        #expect(configuration.relay.software == "from-env")
        #expect(configuration.logLevel == .debug)
    }

    @Test("TURN keys: users and secrets from the environment, relay and policy from the file")
    func turnKeys() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("partyline-\(UUID()).yaml")
        try """
        turn:
          realm: example.org
          relay:
            addresses: ["192.0.2.10", "2001:db8::10", "0.0.0.0=198.51.100.7"]
            ports: "40000-40999"
          peers:
            allowed: ["10.1.0.0/16"]
          quota:
            perUser: 3
            connectionsPerAllocation: 5
          lifetime:
            max: 1800
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try await PartyLineConfiguration.load(
            configFile: file.path, flags: [],
            environment: ["PARTYLINE_TURN_USERS": "alice:a:b,bob:builder", "PARTYLINE_TURN_SECRETS": "north,south"])
        let turn = try #require(configuration.relay.turn)
        #expect(turn.isEnabled)
        #expect(turn.realm == "example.org")
        #expect(turn.staticUsers == ["alice": "a:b", "bob": "builder"])
        #expect(turn.restSecrets == ["north", "south"])
        #expect(turn.relayAddresses.map(\.description) == ["192.0.2.10", "2001:db8::10", "0.0.0.0"])
        #expect(turn.advertisedRelayAddresses == [IPAddress(parsing: "0.0.0.0")!: IPAddress(parsing: "198.51.100.7")!])
        #expect(turn.relayPorts == 40000...40999)
        #expect(turn.allowedPeers.map(\.description) == ["10.1.0.0/16"])
        #expect(turn.limits.maxAllocationsPerUser == 3 && turn.limits.maxLifetime == 1800)
        #expect(turn.limits.maxConnectionsPerAllocation == 5)
        let defaults = try await PartyLineConfiguration.load(configFile: nil, flags: [], environment: [:])
        #expect(defaults.relay.turn?.isEnabled == false)
    }

    @Test(
        "bad TURN values are refused",
        arguments: [
            ["PARTYLINE_TURN_RELAY_PORTS": "100-200"], ["PARTYLINE_TURN_RELAY_PORTS": "60000-50000"],
            ["PARTYLINE_TURN_USERS": "nopassword"], ["PARTYLINE_TURN_RELAY_ADDRESSES": "0.0.0.0"],
            ["PARTYLINE_TURN_PEERS_ALLOWED": "10.0.0.0/40"],
            ["PARTYLINE_TURN_RELAY_ADDRESSES": "10.0.0.5=2001:db8::1"],
        ])
    func badTURNValues(environment: [String: String]) async throws {
        await #expect(throws: ConfigurationError.self) {
            _ = try await PartyLineConfiguration.load(configFile: nil, flags: [], environment: environment)
        }
    }

    @Test("stun.udp.io: batched by default on Linux, event-loop on request, anything else refused")
    func udpIO() async throws {
        let defaults = try await PartyLineConfiguration.load(
            configFile: nil, flags: [], environment: ["PARTYLINE_TURN_SECRETS": "s1"])
        #expect(defaults.relay.udpIO == .defaultForPlatform && defaults.relay.turn?.udpSegmentation == nil)
        #if os(Linux)
            #expect(UDPIO.defaultForPlatform == .batched)
        #endif
        let chosen = try await PartyLineConfiguration.load(
            configFile: nil, flags: ["--stun-udp-io", "event-loop"], environment: [:])
        #expect(chosen.relay.udpIO == .eventLoop)
        await #expect(throws: ConfigurationError.self) {
            _ = try await PartyLineConfiguration.load(
                configFile: nil, flags: [], environment: ["PARTYLINE_STUN_UDP_IO": "io_uring"])
        }
    }

    @Test("a certificate without its key is refused")
    func certificateNeedsKey() async throws {
        await #expect(throws: ConfigurationError.self) {
            _ = try await PartyLineConfiguration.load(
                configFile: nil, flags: [], environment: ["PARTYLINE_TLS_CERTIFICATE": "/tmp/cert.pem"])
        }
    }

    @Test("one port: http.tls needs a certificate; http.stun, the reload interval and the wss:// public URL")
    func onePortKeys() async throws {
        await #expect(throws: ConfigurationError.self) {
            _ = try await PartyLineConfiguration.load(configFile: nil, flags: ["--http-tls"], environment: [:])
        }
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil,
            flags: [
                "--http-tls", "--http-stun", "--http-listen", "127.0.0.1:8443", "--tls-certificate", "/c.pem",
                "--tls-private-key", "/k.pem", "--tls-reload-interval", "0",
            ], environment: [:])
        #expect(configuration.httpTLS && configuration.httpSTUN)
        #expect(configuration.tlsReloadInterval == .zero)
        #expect(configuration.signalling.publicURL == "wss://127.0.0.1:8443/v1/signal")
        let defaults = try await PartyLineConfiguration.load(configFile: nil, flags: [], environment: [:])
        #expect(!defaults.httpTLS && !defaults.httpSTUN && defaults.tlsReloadInterval == .seconds(10))
        #expect(defaults.signalling.publicURL == "ws://127.0.0.1:8080/v1/signal")
    }

    @Test(
        "listen addresses",
        arguments: [
            ("0.0.0.0:3478", "0.0.0.0:3478"), ("[::]:3478", "[::]:3478"), ("127.0.0.1", "127.0.0.1:3478"),
            ("[::1]", "[::1]:3478"), (" 10.0.0.1:1 ", "10.0.0.1:1"),
        ])
    func listenAddresses(text: String, expected: String) throws {
        #expect(try ListenAddress.listenAddress(text, defaultPort: 3478).description == expected)
    }

    @Test("bad listen addresses are refused", arguments: ["", "1.2.3.4:x", "[::1", "[::1]x", "1.2.3.4:70000"])
    func badListenAddresses(text: String) {
        #expect(throws: ConfigurationError.self) { try ListenAddress.listenAddress(text, defaultPort: 3478) }
    }

    @Test("STUN and TURN URLs (RFC 7064, RFC 7065)")
    func urls() {
        #expect(
            STUNServerURL("stun://127.0.0.1:3478")
                == STUNServerURL(scheme: .stun, host: "127.0.0.1", port: 3478, transport: .udp))
        #expect(
            STUNServerURL("stun:example.org")
                == STUNServerURL(scheme: .stun, host: "example.org", port: 3478, transport: .udp))
        #expect(
            STUNServerURL("stun://[::1]:19302?transport=tcp")
                == STUNServerURL(scheme: .stun, host: "::1", port: 19302, transport: .tcp))
        #expect(
            STUNServerURL("stuns://localhost")
                == STUNServerURL(scheme: .stuns, host: "localhost", port: 5349, transport: .tls))
        #expect(STUNServerURL("turns:relay.example.org?transport=tcp")?.transport == .tls)
        #expect(STUNServerURL("http://example.org") == nil)
        #expect(STUNServerURL("stun://host:0") == nil)
        #expect(STUNServerURL("stun://host?transport=sctp") == nil)
        #expect(STUNServerURL("stuns://host?transport=udp") == nil)
    }

    @Test("a misspelled flag or file key is an error naming it; an unknown PARTYLINE_ variable a warning")
    func unknownSettings() async throws {
        do {
            _ = try await PartyLineConfiguration.load(
                configFile: nil, flags: ["--turn-relay-port", "1", "--log-level", "debug"], environment: [:])
            Issue.record("a misspelled flag was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("--turn-relay-port"))
            #expect(!error.description.contains("--log-level"))
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("partyline-\(UUID()).yaml")
        try "turn:\n  relays:\n    ports: \"20000-20999\"\nstun:\n  software: x\n".write(
            to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            _ = try await PartyLineConfiguration.load(configFile: file.path, flags: [], environment: [:])
            Issue.record("a misspelled file key was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("turn.relays"))
            #expect(!error.description.contains("stun.software"))
        }
        var warnings: [String] = []
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil, flags: ["--signalling-public-url=wss://party.example/v1/signal"],
            environment: ["PARTYLINE_TURN_RELAY_PORT": "1", "PARTYLINE_LOG_LEVEL": "info", "PARTYLINE_CONFIG": "x"],
            warnings: { warnings.append($0) })
        #expect(configuration.signalling.publicURL == "wss://party.example/v1/signal")
        #expect(warnings.count == 1 && warnings.first?.contains("PARTYLINE_TURN_RELAY_PORT") == true)
    }

    @Test("the default wildcard pair (0.0.0.0 and [::]) binds one fixed UDP port; a second server is refused by name")
    func wildcardUDPPair() async throws {
        // A free port for both families.
        let probe = try await RelayServer.withFreeUDPPort()
        let addresses = [ListenAddress(host: "0.0.0.0", port: probe), ListenAddress(host: "::", port: probe)]
        let configuration = RelayServerConfiguration(udp: addresses, tcp: [], tls: [], udpSocketsPerAddress: 1)
        try await RelayServer.withRunning(configuration) { server in
            #expect(server.listeners.count == 2)
            let second = RelayServer(configuration: configuration)
            do {
                try await second.start()
                Issue.record("a second server shared the UDP port")
                await second.stop()
            } catch let error as ListenError {
                #expect(error.description.hasPrefix("cannot listen on udp 0.0.0.0:\(probe)"))
            }
        }
    }

    @Test("config check lists the keys set, each with its source, and never shows a secret")
    func effectiveSettings() async throws {
        let checked = try await PartyLineConfiguration.check(
            configFile: nil, flags: ["--http-listen", "127.0.0.1:9000"],
            environment: ["PARTYLINE_TURN_SECRETS": "s3cret-value", "PARTYLINE_LOG_LEVEL": "debug"])
        let byKey = Dictionary(uniqueKeysWithValues: checked.settings.map { ($0.key, $0) })
        #expect(byKey["http.listen"]?.value == "127.0.0.1:9000" && byKey["http.listen"]?.source == "flag")
        #expect(byKey["log.level"]?.value == "debug" && byKey["log.level"]?.source == "environment")
        #expect(byKey["turn.secrets"]?.source == "environment")
        #expect(checked.settings.allSatisfy { !$0.value.contains("s3cret") })
        #expect(byKey["turn.realm"] == nil, "a key left at its default is not listed")
    }

    @Test("every secret can come from a file named by its File key; both at once is an error naming the key")
    func secretsFromFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("partyline-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secrets = directory.appendingPathComponent("turn-secrets")
        try "new-secret\nold-secret\n".write(to: secrets, atomically: true, encoding: .utf8)
        let token = directory.appendingPathComponent("token")
        try "token-secret\n".write(to: token, atomically: true, encoding: .utf8)
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil, flags: ["--turn-secrets-file", secrets.path],
            environment: ["PARTYLINE_SIGNALLING_TOKEN_SECRET_FILE": token.path])
        #expect(configuration.relay.turn?.restSecrets == ["new-secret", "old-secret"])
        #expect(configuration.signalling.tokenSecret == "token-secret")
        do {
            _ = try await PartyLineConfiguration.load(
                configFile: nil, flags: ["--turn-secrets-file", secrets.path, "--turn-secrets", "x"], environment: [:])
            Issue.record("both a secret and its file were accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("turn.secretsFile"))
        }
        await #expect(throws: ConfigurationError.self) {
            _ = try await PartyLineConfiguration.load(
                configFile: nil,
                flags: ["--coordinator-login-secret-file", directory.appendingPathComponent("none").path],
                environment: [:])
        }
    }
}
