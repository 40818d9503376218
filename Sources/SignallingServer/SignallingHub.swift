import Callbacks
import Crypto
import Foundation
import HTTPHost
import HTTPTypes
import Logging
import ServiceLifecycle
import Shared
import Signalling
import Synchronization

/// Every live group session of this node, the session-setup logic behind the API, and the clock that
/// starts turns and enforces deadlines. Runs as a service: its `run()` ticks the sessions.
public final class SignallingHub: Service, Sendable {
    public let configuration: SignallingConfiguration
    /// Signs every session's evidence head; its public key verifies them.
    public let evidenceKey: Curve25519.Signing.PrivateKey
    let signer: JoinTokenSigner
    let apiKeys: BearerKeys
    let issuer: ICEServerIssuer
    let logger: Logger
    private let revoke: @Sendable (String) async -> Void
    private let journal: @Sendable (String, SessionRoom.SessionRecord) async -> Bool
    private let sessionFinished: @Sendable (SessionSummary) -> Void
    private let sessions = Mutex<[String: LiveSession]>([:])
    /// When each finished session finished; it is dropped `retention` later.
    private let finished = Mutex<[String: ContinuousClock.Instant]>([:])
    private let connections = Atomic<UInt64>(0)
    let counters = SignallingCounters()
    private let draining = Atomic<Bool>(false)

    /// `revoke` tears down relay allocations by subject prefix (the relay's `revoke(subjectPrefix:)`);
    /// `journal` makes each vote and decision durable before the session announces it (an in-process
    /// coordinator; sessions wait for it; false abandons the session); `sessionFinished` hears every
    /// finished session's summary (an in-process coordinator); it must not block.
    public init(
        configuration: SignallingConfiguration, evidenceKey: Curve25519.Signing.PrivateKey = .init(),
        logger: Logger = Logger(label: "partyline.signalling"),
        revoke: @escaping @Sendable (String) async -> Void = { _ in },
        journal: @escaping @Sendable (_ session: String, SessionRoom.SessionRecord) async -> Bool = { _, _ in true },
        sessionFinished: @escaping @Sendable (SessionSummary) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.evidenceKey = evidenceKey
        signer =
            configuration.tokenSecret.map { JoinTokenSigner(secret: $0) } ?? JoinTokenSigner(key: .init(size: .bits256))
        apiKeys = BearerKeys(configuration.apiKeys)
        issuer = ICEServerIssuer(configuration: configuration)
        self.logger = logger
        self.revoke = revoke
        self.journal = journal
        self.sessionFinished = sessionFinished
    }

    /// Creates a group session and one join token per member.
    public func createSession(_ request: CreateSessionRequest) throws(APIError) -> CreateSessionResponse {
        guard !isDraining else {
            throw APIError(.serviceUnavailable, "draining", "the node is shutting down: create the session elsewhere")
        }
        let members = request.members
        guard GroupSessionConfiguration.memberRange.contains(members.count) else {
            throw APIError(.badRequest, "invalid-members", "a session has 3 to 12 members")
        }
        guard members.allSatisfy(Self.isValidMemberID), Set(members).count == members.count else {
            throw APIError(.badRequest, "invalid-members", "member ids must be distinct, 1-64 of [A-Za-z0-9._@-]")
        }
        var rules = try sessionRules(request.options)
        if let minimum = request.options?.minimumPresent {
            guard (2...members.count).contains(minimum) else {
                throw APIError(.badRequest, "invalid-options", "minimumPresent must be within 2...\(members.count)")
            }
            rules.minimumPresent = minimum
        }
        let provers = request.provers.map(Set.init)
        if let requested = request.provers, let provers {
            guard provers.count == requested.count, !provers.isEmpty, provers.isSubset(of: members) else {
                throw APIError(.badRequest, "invalid-provers", "provers must be distinct members, at least one")
            }
        }
        let now = Date().timeIntervalSince1970
        var startAt = ContinuousClock.now + configuration.joinWindow
        var startsIn = 0.0
        if let start = request.startAt {
            startsIn = max(0, Double(start) - now)
            guard startsIn < 7 * 86_400 else {
                throw APIError(.badRequest, "invalid-start", "startAt is too far ahead")
            }
            startAt = .now + .milliseconds(Int64(startsIn * 1000))
        }
        guard
            let group = GroupSession(
                members: members, provers: provers, configuration: rules, random: SystemRandomNumberGenerator())
        else { throw APIError(.badRequest, "invalid-members", "the session cannot be formed") }
        let id = Self.sessionID()
        // Tokens outlive the wait for a scheduled start.
        let expires = Int64(now + startsIn) + configuration.tokenLifetime.components.seconds
        let tokens = Dictionary(
            uniqueKeysWithValues: members.map {
                ($0, JoinToken(session: id, member: $0, pseudonym: group.pseudonyms[$0]!, expires: expires))
            })
        let issuer = issuer
        // A turn's credentials must last the whole turn, however long the session's rules make it.
        let lifetime = max(
            configuration.credentialLifetime,
            rules.noShowGrace + rules.turnDeadline + rules.reconnectGrace + .seconds(60))
        let room = SessionRoom(
            id: id, group: group, limits: configuration.limits, signingKey: evidenceKey,
            iceServers: { issuer.servers(subject: $0, lifetime: lifetime) })
        let callback = try callback(for: request.callbackURL)
        let (revoke, journal, counters) = (revoke, journal, counters)
        let live = LiveSession(
            room: room, members: tokens, startAt: startAt,
            revoke: { prefix in
                counters.streamStopped()
                await revoke(prefix)
            },
            journal: { session, record in
                let durable = await journal(session, record)
                if durable { counters.recorded(record) }
                return durable
            },
            callback: callback,
            onFinished: { [weak self] summary in
                self?.finished.withLock { $0[summary.session] = .now }
                self?.sessionFinished(summary)
            },
            onAbandoned: { [weak self] id in
                self?.logger.error("session abandoned: its journal failed", metadata: ["session": "\(id)"])
                _ = self?.sessions.withLock { $0.removeValue(forKey: id) }
            })
        let admitted = sessions.withLock { sessions in
            guard sessions.count < configuration.maximumSessions else { return false }
            sessions[id] = live
            return true
        }
        guard admitted else { throw APIError(.serviceUnavailable, "too-many-sessions", "the node is full") }
        counters.sessionCreated()
        live.start()
        if isDraining { live.hold() }
        return CreateSessionResponse(
            session: id, signallingURL: configuration.publicURL, expires: expires,
            members: members.map {
                .init(member: $0, pseudonym: tokens[$0]!.pseudonym, token: signer.sign(tokens[$0]!))
            })
    }

    func session(_ id: String) -> LiveSession? { sessions.withLock { $0[id] } }

    /// The summary of a live or recently finished session.
    public func summary(of session: String) -> SessionSummary? { self.session(session)?.summary() }

    /// The turn of `session` whose prover is on now, with the prover's pseudonym; nil while none is.
    public func runningTurn(of session: String) -> (turn: GroupSession.Turn, proverPseudonym: String)? {
        self.session(session)?.runningTurn()
    }

    /// Whether the node is draining: no new sessions, no new turns.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Starts draining: new sessions are refused (503 `draining`) and no session starts another turn;
    /// running turns go on to their decisions.
    public func drain() {
        draining.store(true, ordering: .relaxed)
        for session in sessions.withLock({ Array($0.values) }) { session.hold() }
    }

    /// The TURN subject prefixes (`session/turn`) of the turns in progress: their members' credentials.
    public func runningTurnSubjects() -> [String] {
        sessions.withLock { $0 }.compactMap { id, session in session.runningTurn().map { "\(id)/\($0.turn.index)" } }
    }

    /// Turns in progress on this node.
    public func runningTurnCount() -> Int {
        sessions.withLock { Array($0.values) }.count { $0.runningTurn() != nil }
    }

    /// Counters and the live sessions by state, for metrics.
    public func statistics() -> SignallingStatistics {
        var statistics = counters.statistics()
        for session in sessions.withLock({ Array($0.values) }) {
            let state = session.stateName()
            statistics.sessions[state, default: 0] += 1
            if state == "running" && session.runningTurn() != nil { statistics.runningTurns += 1 }
        }
        return statistics
    }

    func newConnectionID() -> UInt64 { connections.add(1, ordering: .relaxed).newValue }

    /// Whether `key` is one of the configured API keys (swift-crypto compares digests in constant time).

    /// Drops finished sessions once `retention` has passed, until shutdown. Each session keeps its own timer
    /// for its deadlines.
    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let now = ContinuousClock.now
            let expired = finished.withLock { finished in
                let expired = finished.filter { now - $0.value > configuration.retention }.map(\.key)
                for id in expired { finished[id] = nil }
                return expired
            }
            if !expired.isEmpty { sessions.withLock { for id in expired { $0[id] = nil } } }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The delivery of a session's result to `url`, if the session asked for one.
    private func callback(for url: String?) throws(APIError) -> LiveSession.Callback? {
        guard let url else { return nil }
        guard let secret = configuration.callbackSecret else {
            throw APIError(.badRequest, "callbacks-disabled", "this server has no signalling.callbackSecret")
        }
        guard url.utf8.count <= 2048, url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw APIError(.badRequest, "invalid-callback", "callbackURL must be an http or https URL")
        }
        let delivery = CallbackDelivery(
            secret: secret, attempts: configuration.callbackAttempts,
            initialBackoff: configuration.callbackInitialBackoff, logger: logger)
        return { body in Task { await delivery.deliver(body, to: url) } }
    }

    private func sessionRules(_ options: CreateSessionRequest.Options?) throws(APIError) -> GroupSessionConfiguration {
        var rules = configuration.session
        guard let options else { return rules }
        func seconds(_ value: Int?, _ range: ClosedRange<Int>, _ name: String) throws(APIError) -> Duration? {
            guard let value else { return nil }
            guard range.contains(value) else {
                throw APIError(.badRequest, "invalid-options", "\(name) must be within \(range)")
            }
            return .seconds(value)
        }
        rules.turnDeadline =
            try seconds(options.turnDeadlineSeconds, 5...3600, "turnDeadlineSeconds") ?? rules.turnDeadline
        rules.noShowGrace = try seconds(options.noShowGraceSeconds, 1...600, "noShowGraceSeconds") ?? rules.noShowGrace
        rules.reconnectGrace =
            try seconds(options.reconnectGraceSeconds, 1...600, "reconnectGraceSeconds") ?? rules.reconnectGrace
        if let prompts = options.prompts {
            guard !prompts.isEmpty, prompts.count <= 100, prompts.allSatisfy({ !$0.isEmpty && $0.count <= 200 }) else {
                throw APIError(.badRequest, "invalid-options", "prompts: 1-100 texts of 1-200 characters")
            }
            rules.prompts = prompts
        }
        return rules
    }

    static func isValidMemberID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"),
                    UInt8(ascii: "@"):
                    true
                default: false
                }
            }
    }

    private static func sessionID() -> String {
        var random = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
    }
}
