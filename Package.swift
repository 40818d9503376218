// swift-tools-version: 6.2
import PackageDescription

/// Settings every PartyLine target shares.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The packet hot path (codec and relay) skips Swift's dynamic exclusivity checks in release builds: they
/// were about 2 % of the server's CPU in a `perf record` profile under Benchmarks/stun-binding.sh load.
/// Debug builds and tests keep them.
let hotPathSettings: [SwiftSetting] =
    strictSettings + [
        .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
    ]

let package = Package(
    name: "PartyLine",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "partyline", targets: ["partyline"]),
        .library(name: "STUN", targets: ["STUN"]),
        .library(name: "TURN", targets: ["TURN"]),
        .library(name: "RelayServer", targets: ["RelayServer"]),
        .library(name: "TURNClient", targets: ["TURNClient"]),
        .library(name: "Signalling", targets: ["Signalling"]),
        .library(name: "SignallingServer", targets: ["SignallingServer"]),
        .library(name: "SignallingClient", targets: ["SignallingClient"]),
        .library(name: "Coordinator", targets: ["Coordinator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(
            url: "https://github.com/apple/swift-configuration.git", from: "1.4.0",
            traits: [.defaults, "YAML", "CommandLineArguments"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        // Already resolved for swift-configuration's YAML trait; read directly to name unknown file keys.
        .package(url: "https://github.com/jpsim/Yams", "5.4.0"..<"7.0.0"),
    ],
    targets: [
        // RFC 8489 message codec: plain values over ByteBuffer, no I/O.
        .target(
            name: "STUN",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: hotPathSettings
        ),
        // recvmmsg, sendmmsg, UDP GSO, epoll and eventfd for the relay's datagram planes (Linux; stubs elsewhere).
        .target(name: "CDatagramSockets"),
        // Small values several targets share: hex and base64url, signed tokens, the ICE server entry.
        .target(
            name: "Shared",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // TURN (RFC 8656) logic as plain values: REST credentials, peer policy, ChannelData; allocations next.
        .target(
            name: "TURN",
            dependencies: [
                "STUN",
                "Shared",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: hotPathSettings
        ),
        // Party signalling as plain values: group sessions, turns, votes, the decision rule.
        .target(
            name: "Signalling",
            dependencies: ["Shared", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The server's TLS certificate and key, reloaded for new connections (SIGHUP, file change).
        .target(
            name: "ServerTLS",
            dependencies: [
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The process's HTTP listener (Hummingbird): connection caps, TLS, STUN sharing the port, health; the
        // API helpers every feature's routes use. Signalling, coordinator and web page add routes to it.
        .target(
            name: "HTTPHost",
            dependencies: [
                "ConnectionLimits",
                "ServerTLS",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Signed result callbacks (webhooks): the signature header and the retrying delivery.
        .target(
            name: "Callbacks",
            dependencies: [
                "Shared",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Party signalling over the network: the WebSocket endpoint and the session-setup API (Hummingbird).
        .target(
            name: "SignallingServer",
            dependencies: [
                "Shared",
                "Callbacks",
                "HTTPHost",
                .product(name: "Atomics", package: "swift-atomics"),
                "Signalling",
                "TURN",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Parties as plain values: accounts and login, parties and registration rules, location spacing, verifiable
        // assignment, deposits.
        .target(
            name: "Coordinator",
            dependencies: ["Shared", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The cluster as plain values: nodes, their roles and loads, who is alive, where new work goes.
        .target(name: "Cluster", swiftSettings: strictSettings),
        // The cluster's tables on the shared PostgreSQL: each node's heartbeat row.
        .target(
            name: "ClusterStore",
            dependencies: [
                "Cluster",
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The coordinator's tables in SQL: one SQLKit layer over SQLite (default) and PostgreSQL.
        .target(
            name: "CoordinatorStore",
            dependencies: [
                "Shared",
                "Coordinator",
                "Signalling",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The running coordinator (state under a lock, group commit to storage) and its HTTP API.
        .target(
            name: "CoordinatorServer",
            dependencies: [
                "Shared",
                "Callbacks",
                "ConnectionLimits",
                "HTTPHost",
                "TURN",
                "Coordinator",
                "CoordinatorStore",
                .product(name: "Metrics", package: "swift-metrics"),
                "Signalling",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // A member's signalling connection as a client sees it (load tool, tests).
        .target(
            name: "SignallingClient",
            dependencies: [
                "Signalling",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Thin SwiftNIO listeners (UDP, TCP, TLS) around the protocol values.
        // Connection caps (total and per source address) for the stream and HTTP listeners.
        .target(
            name: "ConnectionLimits",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RelayServer",
            dependencies: [
                "CDatagramSockets",
                "ServerTLS",
                "STUN",
                "TURN",
                "ConnectionLimits",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: hotPathSettings
        ),
        // The client side of STUN and TURN: plain state machines with NIO drivers; probe, load tool and tests use them.
        .target(
            name: "TURNClient",
            dependencies: [
                "STUN",
                "TURN",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // Load generators for the relay (`partyline load ...`).
        .target(
            name: "LoadGenerator",
            dependencies: [
                "Shared",
                "STUN",
                "TURNClient",
                "TURN",
                "Signalling",
                "SignallingClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strictSettings
        ),
        // The party web page: static files (package resources) and the routes and headers that serve them.
        .target(
            name: "WebPage",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Site")],
            swiftSettings: strictSettings
        ),
        // The server's one configuration model: YAML file < environment < flags.
        .target(
            name: "PartyLineServer",
            dependencies: [
                "Shared",
                "ConnectionLimits",
                "HTTPHost",
                "ServerTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "Cluster",
                "ClusterStore",
                "Coordinator",
                "CoordinatorServer",
                .product(name: "Crypto", package: "swift-crypto"),
                "CoordinatorStore",
                "RelayServer",
                "Signalling",
                "SignallingServer",
                "WebPage",
                .product(name: "Hummingbird", package: "hummingbird"),
                "STUN",
                "TURN",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "partyline",
            dependencies: [
                "Shared",
                "PartyLineServer",
                "STUN",
                "TURN",
                "TURNClient",
                "LoadGenerator",
                "Coordinator",
                "CoordinatorServer",
                "CoordinatorStore",
                "Signalling",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // libFuzzer entry point for the STUN decoder; see scripts/fuzz-stun.sh.
        .executableTarget(
            name: "STUNFuzzer",
            dependencies: [
                "STUN",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Test-only helpers: loopback server launcher, fixtures.
        .target(
            name: "PartyLineTesting",
            dependencies: [
                "RelayServer",
                "ServerTLS",
                "STUN",
                "TURN",
                "TURNClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/PartyLineTesting",
            swiftSettings: strictSettings
        ),
        // Test-only: a seeded random generator for reproducible randomised tests.
        .target(name: "TestRandom", path: "Tests/TestRandom", swiftSettings: strictSettings),
        .testTarget(
            name: "STUNTests",
            dependencies: ["STUN", "TestRandom", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SignallingTests",
            dependencies: [
                "Shared", "Signalling", "TURN", "TestRandom", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SignallingServerTests",
            dependencies: [
                "Shared",
                "Signalling", "SignallingServer", "SignallingClient", "RelayServer", "PartyLineTesting", "TURN",
                "HTTPHost", "Callbacks",
                "TURNClient", "STUN", "LoadGenerator",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: [
                "Cluster", "ClusterStore", "PartyLineTesting", .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: [
                "Shared",
                "Coordinator", "Signalling", "TestRandom", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CoordinatorServerTests",
            dependencies: [
                "Shared",
                "Coordinator", "CoordinatorStore", "CoordinatorServer", "Signalling", "SignallingServer", "TestRandom",
                "PartyLineTesting", "HTTPHost", "Callbacks",
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebPageTests",
            dependencies: [
                "WebPage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ConnectionLimitsTests",
            dependencies: ["ConnectionLimits", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "TURNTests",
            dependencies: [
                "Shared", "TURN", "STUN", .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RelayServerTests",
            dependencies: [
                "RelayServer", "ConnectionLimits", "ServerTLS", "HTTPHost",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), "TURNClient", "PartyLineTesting",
                "PartyLineServer", "LoadGenerator", "STUN", "TURN", "CDatagramSockets",
                "Signalling", "SignallingServer", "SignallingClient", "CoordinatorServer", "CoordinatorStore",
                "Cluster",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
    ]
)
