import Coordinator
import CoordinatorServer
import CoordinatorStore
import Crypto
import Foundation
import HTTPHost
import Logging
import PartyLineTesting
import ServiceLifecycle
import Shared
import Signalling
import SignallingServer
import Synchronization
import Testing

/// A test clock in Unix seconds.
final class TestClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func advance(_ seconds: Int64) { value.withLock { $0 += seconds } }
}

/// The HTTP server (signalling and coordinator routes) on 127.0.0.1 over a fresh database, for one test.
struct CoordinatorHarness: Sendable {
    static let adminKey = "test-admin-key"
    static let attestationKey = Curve25519.Signing.PrivateKey()
    let port: Int
    let api: CoordinatorAPI
    /// Ticked by the tests (not as a service), so party starts happen when a test says.
    let runner: PartyRunner
    let hub: SignallingHub
    let clock: TestClock
    let backend: SQLCoordinatorStore.Backend

    /// Runs `body` against a server over `backend` (a fresh database of `kind` when nil).
    static func withRunning(
        _ kind: TestDatabases.Kind, backend: SQLCoordinatorStore.Backend? = nil,
        clock: TestClock = TestClock(Fixtures.now), joinWindow: Duration = .seconds(2),
        loginLimit: (perSecond: Double, burst: Int) = (0, 1),
        _ body: (CoordinatorHarness) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test.coordinator")
        logger.logLevel = .warning
        let backend = try await Self.backend(backend, kind)
        let store = try await SQLCoordinatorStore.open(backend, logger: logger)
        let coordinator = try await LiveCoordinator(store: store, logger: logger)
        let finished = AsyncStream<SessionSummary>.makeStream()
        var signalling = SignallingConfiguration(tokenSecret: "tokens")
        signalling.joinWindow = joinWindow
        signalling.session.noShowGrace = .seconds(1)
        let journal = SessionJournal(
            coordinator: coordinator, validity: 365 * 86_400, logger: logger, now: { clock.now })
        let hub = SignallingHub(
            configuration: signalling, logger: logger, journal: { await journal.record(session: $0, $1) },
            sessionFinished: { finished.continuation.yield($0) })
        var configuration = CoordinatorConfiguration(
            database: backend, adminKeys: [adminKey], loginSecret: "login", sessionLifetime: 86_400)
        (configuration.loginsPerSecond, configuration.loginBurst) = loginLimit
        let api = CoordinatorAPI(
            coordinator: coordinator, configuration: configuration, attestationKey: attestationKey, sessionHost: hub,
            now: { clock.now })
        let runner = PartyRunner(
            coordinator: coordinator, sessionHost: hub, validity: configuration.validity, logger: logger,
            now: { clock.now })
        let (ports, reportPort) = AsyncStream<Int>.makeStream()
        let app = HTTPHost.make(
            host: "127.0.0.1", port: 0, logger: logger, webSocket: SignallingRoutes.webSocket(hub: hub),
            addRoutes: {
                SignallingRoutes.add(to: $0, hub: hub)
                CoordinatorRoutes.add(to: $0, api: api)
            },
            services: [hub, coordinator, PartyResults(summaries: finished.stream, runner: runner)],
            onServerRunning: { reportPort.yield($0) })
        try await withThrowingTaskGroup { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            defer { group.cancelAll() }
            try await body(
                CoordinatorHarness(port: port, api: api, runner: runner, hub: hub, clock: clock, backend: backend))
        }
    }

    private static func backend(_ given: SQLCoordinatorStore.Backend?, _ kind: TestDatabases.Kind) async throws
        -> SQLCoordinatorStore.Backend
    {
        if let given { return given }
        return try await TestDatabases.make(kind)
    }

    var signallingURL: String { "ws://127.0.0.1:\(port)/v1/signal" }

    func call(_ method: String, _ path: String, body: String? = nil, bearer: String? = nil) async throws
        -> HTTPTestCall.Reply
    {
        try await HTTPTestCall.call(port: port, method, path, body: body, bearer: bearer)
    }

    /// Logs in a fresh P-256 account through the challenge API; its id and session token.
    func login() async throws -> (account: String, token: String) {
        let signer = P256.Signing.PrivateKey()
        let key = Base64URL.encode(signer.publicKey.x963Representation)
        let challenge = try await call(
            "POST", "/v1/auth/challenge", body: #"{"algorithm":"ES256","publicKey":"\#(key)"}"#)
        try #require(challenge.status == 200)
        let text = try #require(challenge.json["signedText"] as? String)
        let signature = Base64URL.encode(try signer.signature(for: Data(text.utf8)).rawRepresentation)
        let session = try await call(
            "POST", "/v1/auth/session",
            body:
                #"{"algorithm":"ES256","publicKey":"\#(key)","challenge":"\#(challenge.json["challenge"] as! String)","signature":"\#(signature)"}"#
        )
        try #require(session.status == 200)
        return (try #require(session.json["account"] as? String), try #require(session.json["token"] as? String))
    }

    /// Creates a party open for registration now; its id.
    func createParty(deposit: Int64 = 0, minimumDistance: Double = 100, slashPermille: Int = 0, groupSize: Int = 6)
        async throws -> String
    {
        let now = clock.now
        let reply = try await call(
            "POST", "/v1/parties",
            body: """
                {"name":"Test","timeZone":"Europe/Berlin","registrationOpensAt":\(now - 60),
                 "registrationClosesAt":\(now + 3600),"startsAt":\(now + 7200),"deposit":\(deposit),
                 "minimumDistance":\(minimumDistance),"slashPermille":\(slashPermille),"groupSize":\(groupSize)}
                """, bearer: Self.adminKey)
        try #require(reply.status == 201)
        return try #require(reply.json["id"] as? String)
    }

    func credit(_ account: String, _ amount: Int64) async throws {
        let reply = try await call(
            "POST", "/v1/admin/credits", body: #"{"account":"\#(account)","amount":\#(amount)}"#, bearer: Self.adminKey)
        try #require(reply.status == 200)
    }

    /// `count` fresh accounts, each credited `credit` and registered for `party` 0.01° of latitude apart.
    func registeredMembers(_ count: Int, party: String, credit amount: Int64) async throws
        -> [(account: String, token: String)]
    {
        var members: [(account: String, token: String)] = []
        for index in 0..<count {
            let member = try await login()
            try await credit(member.account, amount)
            let registered = try await register(
                member.token, party: party, latitude: 52.0 + Double(index) * 0.01, longitude: 4.3)
            try #require(registered.status == 201)
            members.append(member)
        }
        return members
    }

    func register(_ token: String, party: String, latitude: Double, longitude: Double) async throws
        -> HTTPTestCall.Reply
    {
        try await call(
            "POST", "/v1/parties/\(party)/registrations", body: #"{"latitude":\#(latitude),"longitude":\#(longitude)}"#,
            bearer: token)
    }
}
