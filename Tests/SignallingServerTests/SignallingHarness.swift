import AsyncHTTPClient
import Foundation
import HTTPHost
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PartyLineTesting
import RelayServer
import Signalling
import SignallingClient
import SignallingServer
import Testing

/// A signalling server on 127.0.0.1 (port picked by the kernel) for one test, with an HTTP client for the
/// session API and WebSocket clients for members.
struct SignallingHarness: Sendable {
    static let apiKey = "test-api-key"
    let port: Int
    let hub: SignallingHub

    static func configuration() -> SignallingConfiguration {
        var configuration = SignallingConfiguration(apiKeys: [apiKey], tokenSecret: "test token secret")
        configuration.joinWindow = .seconds(2)
        configuration.heartbeat = .seconds(1)
        configuration.joinTimeout = .seconds(1)
        configuration.stunURLs = ["stun:127.0.0.1:3478"]
        return configuration
    }

    static func withRunning(
        _ configuration: SignallingConfiguration = configuration(),
        revoke: @escaping @Sendable (String) async -> Void = { _ in },
        journal: @escaping @Sendable (String, SessionRoom.SessionRecord) async -> Bool = { _, _ in true },
        limits: HTTPConnectionLimits = .init(),
        _ body: (SignallingHarness) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test.signalling")
        logger.logLevel = .critical
        let hub = SignallingHub(configuration: configuration, logger: logger, revoke: revoke, journal: journal)
        let (ports, reportPort) = AsyncStream<Int>.makeStream()
        let app = HTTPHost.make(
            host: "127.0.0.1", port: 0, logger: logger, limits: limits, webSocket: SignallingRoutes.webSocket(hub: hub),
            addRoutes: { SignallingRoutes.add(to: $0, hub: hub) }, services: [hub],
            onServerRunning: { reportPort.yield($0) })
        try await withThrowingTaskGroup { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            defer { group.cancelAll() }
            try await body(SignallingHarness(port: port, hub: hub))
        }
    }

    var signallingURL: String { "ws://127.0.0.1:\(port)/v1/signal" }

    /// An HTTP request to the API: status and JSON body.
    func call(
        _ method: String, _ path: String, body: String? = nil, key: String? = apiKey
    ) async throws -> (status: Int, json: [String: Any]) {
        let reply = try await HTTPTestCall.call(port: port, method, path, body: body, bearer: key)
        return (reply.status, reply.json)
    }

    /// Creates a session through the API.
    func createSession(
        members: [String], startAt: Int64? = nil, options: CreateSessionRequest.Options? = nil
    ) async throws -> CreateSessionResponse {
        let body = try JSONEncoder().encode(CreateSessionRequest(members: members, startAt: startAt, options: options))
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/sessions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(Self.apiKey)")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        try #require(response.status == .created)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return try JSONDecoder().decode(CreateSessionResponse.self, from: Data(bytes.readableBytesView))
    }

    /// Every member of `created` joined, and the first turn started: each one's connection, inbox and view
    /// of the turn, in the order of `created.members`.
    func joinAll(_ created: CreateSessionResponse) async throws -> [(SignallingConnection, Inbox, TurnView)] {
        var members: [(SignallingConnection, Inbox, TurnView)] = []
        let connections = created.members.map { join($0.token) }
        for connection in connections {
            var inbox = Inbox(connection)
            let view = try await inbox.first { if case .turnStart(let view) = $0 { view } else { nil } }
            members.append((connection, inbox, view))
        }
        return members
    }

    /// A member's connection that has sent its join.
    func join(_ token: String) -> SignallingConnection {
        let connection = SignallingConnection(url: signallingURL, logger: Logger(label: "test.member"))
        connection.send(.join(version: 1, token: token))
        return connection
    }
}

/// Reads a connection's messages in order, with a timeout so a broken server fails the test instead of
/// hanging it.
struct Inbox {
    var iterator: AsyncStream<ServerMessage>.AsyncIterator

    init(_ connection: SignallingConnection) { iterator = connection.messages.makeAsyncIterator() }

    /// The next message; nil when the connection ended.
    mutating func next() async -> ServerMessage? { await iterator.next() }

    /// The first message matching `match`, skipping others.
    mutating func first<T>(_ match: (ServerMessage) -> T?) async throws -> T {
        while let message = await iterator.next() {
            if let value = match(message) { return value }
        }
        throw InboxClosed()
    }

    struct InboxClosed: Error {}
}

extension SignallingHarness {
    /// A TURN relay on loopback and a signalling server whose members get TURN URLs on it (REST secret
    /// "north", one URL per transport in `transports`); a decided turn revokes its credentials at the relay,
    /// and `onRevoke` hears each revoked prefix afterwards.
    static func withRelay(
        transports: [String] = ["udp"], onRevoke: @escaping @Sendable (String) -> Void = { _ in },
        _ body: (SignallingHarness, _ turnServer: SocketAddress) async throws -> Void
    ) async throws {
        var relayConfiguration = RelayServerConfiguration.loopback()
        relayConfiguration.turn = .loopback()
        try await RelayServer.withRunning(relayConfiguration) { relay in
            let turnServer = try #require(relay.address(.udp))
            var configuration = configuration()
            configuration.turnSecrets = ["north"]
            configuration.turnURLs = transports.map { "turn:127.0.0.1:\(turnServer.port!)?transport=\($0)" }
            let revoke: @Sendable (String) async -> Void = { prefix in
                _ = await relay.revoke(subjectPrefix: prefix)
                onRevoke(prefix)
            }
            try await withRunning(configuration, revoke: revoke) { harness in try await body(harness, turnServer) }
        }
    }
}
