import Crypto
import Shared

/// One group session and its members' connections, as a plain value: it turns connections, client
/// messages and time into messages for connections, closes, and relay revocations. The driver verifies
/// join tokens, owns the sockets and performs the actions in order.
public struct SessionRoom: Sendable {
    public typealias ConnectionID = UInt64
    public typealias MemberID = GroupSession.MemberID

    /// The signalling protocol version this room speaks.
    public static let protocolVersion = 1

    /// A reading of both clocks: the monotonic one for the rules, the wall one for the record.
    public struct Time: Sendable, Hashable {
        public let instant: ContinuousClock.Instant
        public let unixMillis: UInt64

        public init(instant: ContinuousClock.Instant, unixMillis: UInt64) {
            self.instant = instant
            self.unixMillis = unixMillis
        }
    }

    /// Why the server closes a connection.
    public enum CloseReason: String, Sendable, Hashable {
        case replaced
        case left
        /// The member reconnects faster than `Limits.connectsPerSecond` allows.
        case rateLimited = "rate-limited"
        case finished = "session-finished"
        /// The journal could not record a vote or decision: the session is abandoned.
        case storageUnavailable = "storage-unavailable"
    }

    /// What the driver must do, in order.
    public enum Action: Sendable, Hashable {
        case send(ConnectionID, ServerMessage)
        case close(ConnectionID, CloseReason)
        /// Revoke the TURN credentials whose subject starts with these segments, tearing down their allocations.
        case revoke(subjectPrefix: String)
        /// Make this durable before performing the actions that follow (a vote before its acknowledgement,
        /// a decision before its announcement).
        case record(SessionRecord)
        /// The session is over; its result and signed evidence are final.
        case finished
    }

    /// What a session asks its driver to make durable.
    public enum SessionRecord: Sendable, Hashable, Codable {
        case vote(turn: Int, verifier: MemberID, vote: GroupSession.Vote)
        case turnDecided(GroupSession.TurnResult)
    }

    /// Per-member message limits.
    public struct Limits: Sendable, Hashable {
        public var messagesPerSecond = 50.0
        public var messageBurst = 100
        /// Verifier → prover `request` texts.
        public var requestsPerSecond = 0.5
        public var requestBurst = 3
        /// (Re)connections per member: each one is announced, logged and mints credentials.
        public var connectsPerSecond = 0.5
        public var connectBurst = 5

        public init() {}
    }

    /// Hands out `iceServers` entries: for a subject (`session/turn/pseudonym`) with credentials scoped to
    /// it, or for `nil` without TURN credentials.
    public typealias ICEServerIssuer = @Sendable (_ subject: String?) -> [ICEServer]

    public let id: String
    public private(set) var group: GroupSession
    public internal(set) var evidence = EvidenceLog()
    public internal(set) var signedHead: EvidenceLog.SignedHead?
    let limits: Limits
    let signingKey: Curve25519.Signing.PrivateKey
    let iceServers: ICEServerIssuer
    let memberByPseudonym: [String: MemberID]
    var connections: [MemberID: ConnectionID] = [:]
    var memberOf: [ConnectionID: MemberID] = [:]
    var everConnected: Set<MemberID> = []
    /// Members who sent `leave`: their token no longer admits them.
    var leftForGood: Set<MemberID> = []
    var messageBudgets: [MemberID: MessageBudget] = [:]
    var requestBudgets: [MemberID: MessageBudget] = [:]
    var connectBudgets: [MemberID: MessageBudget] = [:]

    public init(
        id: String, group: GroupSession, limits: Limits = Limits(), signingKey: Curve25519.Signing.PrivateKey,
        iceServers: @escaping ICEServerIssuer
    ) {
        self.id = id
        self.group = group
        self.limits = limits
        self.signingKey = signingKey
        self.iceServers = iceServers
        memberByPseudonym = Dictionary(uniqueKeysWithValues: group.pseudonyms.map { ($0.value, $0.key) })
    }

    /// Whether `connection` is some member's live connection.
    public func member(of connection: ConnectionID) -> MemberID? { memberOf[connection] }

    // MARK: Inputs

    /// `member` (whose token the driver verified) is connected on `connection`. An older connection of the
    /// same member is closed: the new one replaces it, and a reconnecting member resumes from a snapshot.
    public mutating func connect(_ member: MemberID, on connection: ConnectionID, at time: Time) -> [Action] {
        guard group.pseudonyms[member] != nil else { return [.close(connection, .left)] }
        guard !leftForGood.contains(member) else {
            return [
                .send(connection, .error(code: "member-left", message: "this member left the session for good")),
                .close(connection, .left),
            ]
        }
        let limits = limits
        let connectBudget = MessageBudget(rate: limits.connectsPerSecond, burst: limits.connectBurst)
        guard connectBudgets[member, default: connectBudget].spend(at: time.instant) else {
            return [
                .send(connection, .error(code: "rate-limited", message: "reconnecting too often")),
                .close(connection, .rateLimited),
            ]
        }
        var actions: [Action] = []
        if let old = connections[member] {
            actions.append(.close(old, .replaced))
            memberOf[old] = nil
        }
        connections[member] = connection
        memberOf[connection] = member
        let resumed = !everConnected.insert(member).inserted
        actions.append(.send(connection, .welcome(welcome(for: member, resumed: resumed, at: time))))
        guard !group.finished else {
            if let present = group.undersized {
                let minimum = group.configuration.minimumPresent
                actions.append(.send(connection, .undersized(present: present.count, minimum: minimum)))
            }
            return actions + [.send(connection, .sessionResult(memberResults())), .close(connection, .finished)]
        }
        evidence.append(kind: "join", detail: "member=\(member) resumed=\(resumed)", time: time.unixMillis)
        actions += announce(member, state: "joined")
        let events = (try? group.join(member, now: time.instant)) ?? []
        return actions + apply(events, at: time)
    }

    /// `connection` closed. Closing a replaced connection changes nothing.
    public mutating func disconnect(_ connection: ConnectionID, at time: Time) -> [Action] {
        guard let member = memberOf.removeValue(forKey: connection) else { return [] }
        connections[member] = nil
        guard !group.finished else { return [] }
        evidence.append(kind: "drop", detail: "member=\(member)", time: time.unixMillis)
        let events = (try? group.leave(member, now: time.instant, reconnecting: true)) ?? []
        return announce(member, state: "reconnecting") + apply(events, at: time)
    }

    /// The party's start time: the first turn starts with whoever has joined.
    public mutating func begin(at time: Time) -> [Action] {
        apply((try? group.begin(now: time.instant)) ?? [], at: time)
    }

    /// The node drains: no turn starts after the running one (see ``GroupSession/hold()``).
    public mutating func hold() { group.hold() }

    /// Time passes: deadlines and graces.
    public mutating func tick(at time: Time) -> [Action] {
        apply(group.tick(now: time.instant), at: time)
    }

    /// A message on `connection`. A refused message changes nothing and is answered with `error`.
    public mutating func receive(_ message: ClientMessage, from connection: ConnectionID, at time: Time) -> [Action] {
        guard let member = memberOf[connection] else { return [] }
        func refuse(_ code: String, _ text: String) -> [Action] {
            [.send(connection, .error(code: code, message: text))]
        }
        let limits = limits
        let messageBudget = MessageBudget(rate: limits.messagesPerSecond, burst: limits.messageBurst)
        guard messageBudgets[member, default: messageBudget].spend(at: time.instant) else {
            return refuse("rate-limited", "too many messages")
        }
        do {
            switch message {
            case .join:
                return refuse("already-joined", "this connection has joined")
            case .ping:
                return [.send(connection, .pong)]
            case .offer(let to, let sdp):
                return try relay(from: member, to: to, .offer(from: pseudonym(member), sdp: sdp))
            case .answer(let to, let sdp):
                return try relay(from: member, to: to, .answer(from: pseudonym(member), sdp: sdp))
            case .candidate(let to, let candidate):
                return try relay(from: member, to: to, .candidate(from: pseudonym(member), candidate: candidate))
            case .request(let text):
                guard let prover = group.turn?.prover else { throw GroupSession.Failure.noTurnInProgress }
                try group.checkEdge(from: member, to: prover)
                guard spendRequest(member, at: time) else { return refuse("rate-limited", "too many requests") }
                return try relay(from: member, to: pseudonym(prover), .request(from: pseudonym(member), text: text))
            case .requestPrompt:
                var trial = group
                let events = try trial.requestPrompt(by: member)
                guard spendRequest(member, at: time) else { return refuse("rate-limited", "too many requests") }
                group = trial
                return apply(events, at: time)
            case .vote(let turn, let vote):
                let events = try group.vote(vote, by: member, turn: turn, now: time.instant)
                return apply(events, at: time, castVote: vote)
            case .leave:
                let events = try group.leave(member, now: time.instant, reconnecting: false)
                leftForGood.insert(member)
                memberOf[connection] = nil
                connections[member] = nil
                evidence.append(kind: "leave", detail: "member=\(member)", time: time.unixMillis)
                return [.close(connection, .left)] + announce(member, state: "left") + apply(events, at: time)
            }
        } catch let failure as GroupSession.Failure {
            return refuse(failure.rawValue, "refused: \(failure.rawValue)")
        } catch {
            return refuse("unknown-peer", "no member has that pseudonym")
        }
    }

    /// Takes one of `member`'s `request` / `request-prompt` tokens.
    private mutating func spendRequest(_ member: MemberID, at time: Time) -> Bool {
        let budget = MessageBudget(rate: limits.requestsPerSecond, burst: limits.requestBurst)
        return requestBudgets[member, default: budget].spend(at: time.instant)
    }

    /// Signalling between two members, only along an edge the turn allows.
    private func relay(from member: MemberID, to pseudonym: String, _ message: ServerMessage) throws -> [Action] {
        guard let target = memberByPseudonym[pseudonym] else { throw UnknownPeer() }
        try group.checkEdge(from: member, to: target)
        guard let connection = connections[target] else { return [] }
        return [.send(connection, message)]
    }

    private struct UnknownPeer: Error {}
}
