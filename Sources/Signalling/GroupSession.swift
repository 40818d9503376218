/// One group of a people party as a plain state machine: roster and pseudonyms, a random turn order,
/// presence, the current turn, who may signal whom, secret votes and the decision rule, timeouts, and the
/// result. Time and randomness come in from outside; inputs return events or a typed error and leave the
/// state unchanged when they fail.
public struct GroupSession: Sendable {
    public typealias Instant = ContinuousClock.Instant
    public typealias MemberID = String

    public enum Presence: Sendable, Hashable {
        case absent, joined
        /// Dropped; may resume until then.
        case reconnecting(until: Instant)
    }

    public enum Vote: String, Sendable, Hashable, Codable, CaseIterable {
        case approve, deny
    }

    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case approved, denied, noShow, incomplete
    }

    /// A turn's result: the tally is public once decided; who voted what stays in ``votes``.
    public struct TurnResult: Sendable, Hashable, Codable {
        public let turn: Int
        public let prover: MemberID
        public let outcome: Outcome
        public let approvals: Int
        public let denials: Int
        /// Approvals needed: a majority of the verifiers present at the turn's start.
        public let threshold: Int

        public init(turn: Int, prover: MemberID, outcome: Outcome, approvals: Int, denials: Int, threshold: Int) {
            self.turn = turn
            self.prover = prover
            self.outcome = outcome
            self.approvals = approvals
            self.denials = denials
            self.threshold = threshold
        }
    }

    /// The turn in progress.
    public struct Turn: Sendable, Hashable {
        public let index: Int
        public let prover: MemberID
        /// Verifiers present when the turn started, less those who left since.
        public internal(set) var verifiers: Set<MemberID>
        /// Majority of the verifiers present at the start.
        public internal(set) var threshold: Int
        public internal(set) var deadline: Instant
        /// Set while waiting for an absent prover (no-show grace) or a dropped one (reconnect grace).
        public internal(set) var waitingForProver: Instant?
        public internal(set) var prompt: String
        var votes: [MemberID: Vote] = [:]
        /// Whether the turn has started: the prover came and `turn-start` went out. False while the server
        /// waits out an absent prover's no-show grace.
        public internal(set) var started: Bool
    }

    /// The turn whose prover is on now: started and not decided. Nil while waiting for a prover, between
    /// turns and once the session is over. Only this turn's verifiers may see the prover's location.
    public var runningTurn: Turn? {
        guard !finished, let turn, turn.started else { return nil }
        return turn
    }

    /// What the machine tells the driver to announce or do.
    public enum Event: Sendable, Hashable {
        case turnStarted(turn: Int, prover: MemberID, verifiers: Set<MemberID>, prompt: String, deadline: Instant)
        case prompt(turn: Int, prompt: String)
        case voteAccepted(turn: Int, verifier: MemberID)
        /// Stop the prover's stream (and revoke the turn's relay credentials).
        case streamStop(turn: Int, prover: MemberID)
        case turnDecided(TurnResult)
        /// Fewer than the configured minimum were present at the start; the session finishes without turns.
        case undersized(present: [MemberID])
        case sessionFinished([TurnResult])
    }

    /// Why an input was refused; the state is unchanged.
    public enum Failure: String, Error, Sendable, Hashable {
        case notAMember = "not-a-member"
        case sessionFinished = "session-finished"
        case noTurnInProgress = "no-turn"
        case wrongTurn = "wrong-turn"
        case proverCannotVote = "prover-cannot-vote"
        case notAVerifier = "not-a-verifier"
        case alreadyVoted = "already-voted"
        case edgeNotAllowed = "edge-not-allowed"
        case notTheVerifier = "not-a-verifier-of-this-turn"
    }

    public let configuration: GroupSessionConfiguration
    public let members: [MemberID]
    public let pseudonyms: [MemberID: String]
    public private(set) var order: [MemberID]
    public private(set) var presence: [MemberID: Presence]
    public private(set) var turn: Turn?
    public private(set) var results: [TurnResult] = []
    /// Every vote of every decided turn, for the record; never sent to the group.
    public private(set) var votes: [Int: [MemberID: Vote]] = [:]
    public private(set) var finished = false
    /// The members present when the session ended as undersized (nil otherwise), in member order.
    public private(set) var undersized: [MemberID]?
    /// Set when the node drains: the running turn may finish, but no turn starts after it.
    public private(set) var holding = false
    private var nextIndex = 0
    private var retried: Set<MemberID> = []
    private var random: SessionRandom

    /// A session for `members` (3–12, distinct), with pseudonyms and the turn order drawn from `random`.
    /// Only `provers` (a non-empty subset; all members when nil) take a turn; the others only verify.
    public init?(
        members: [MemberID], provers: Set<MemberID>? = nil,
        configuration: GroupSessionConfiguration = GroupSessionConfiguration(),
        random: some RandomNumberGenerator & Sendable
    ) {
        guard GroupSessionConfiguration.memberRange.contains(members.count), Set(members).count == members.count,
            !configuration.prompts.isEmpty, provers.map({ !$0.isEmpty && $0.isSubset(of: members) }) ?? true
        else { return nil }
        var random = SessionRandom(random)
        self.configuration = configuration
        self.members = members
        pseudonyms = Pseudonyms.draw(for: members, using: &random)
        order = members.shuffled(using: &random).filter { provers?.contains($0) ?? true }
        presence = Dictionary(uniqueKeysWithValues: members.map { ($0, .absent) })
        self.random = random
    }

    // MARK: Inputs

    /// `member` is connected (again). The first turn starts when every member has joined (or at
    /// ``begin(now:)``); a dropped prover resumes their turn.
    public mutating func join(_ member: MemberID, now: Instant) throws(Failure) -> [Event] {
        guard presence[member] != nil else { throw .notAMember }
        guard !finished else { throw .sessionFinished }
        presence[member] = .joined
        if var current = turn, current.prover == member, current.waitingForProver != nil {
            current.waitingForProver = nil
            if !current.started {
                turn = current
                return start(now: now)
            }
            turn = current
            return []
        }
        let everyone = presence.values.allSatisfy { $0 == .joined }
        return turn == nil && nextIndex == 0 && everyone ? advance(now: now) : []
    }

    /// The party's start time: the first turn starts whoever has joined (absent provers get their grace),
    /// unless fewer than ``GroupSessionConfiguration/minimumPresent`` are there: then the session ends as
    /// undersized.
    public mutating func begin(now: Instant) throws(Failure) -> [Event] {
        guard !finished else { throw .sessionFinished }
        guard turn == nil, nextIndex == 0 else { return [] }
        let present = members.filter { presence[$0] != .absent }
        guard present.count >= configuration.minimumPresent else {
            finished = true
            undersized = present
            return [.undersized(present: present), .sessionFinished(results)]
        }
        return advance(now: now)
    }

    /// `member`'s connection dropped (`reconnecting`) or they left for good. A dropped member keeps their
    /// place (a prover their turn, a verifier their seat and vote) for the reconnect grace. A verifier who
    /// leaves, or whose grace runs out, before voting is dropped from the count; a cast vote stands. A
    /// prover who leaves for good ends their turn as incomplete, without a retry.
    public mutating func leave(_ member: MemberID, now: Instant, reconnecting: Bool) throws(Failure) -> [Event] {
        guard presence[member] != nil else { throw .notAMember }
        guard !finished else { throw .sessionFinished }
        presence[member] = reconnecting ? .reconnecting(until: now + configuration.reconnectGrace) : .absent
        guard var current = turn else { return [] }
        if current.prover == member {
            guard reconnecting else {
                retried.insert(member)
                return finish(current.started ? .incomplete : .noShow, now: now)
            }
            current.waitingForProver = now + configuration.reconnectGrace
            turn = current
            return []
        }
        guard !reconnecting else { return [] }
        return dropVerifier(member, now: now)
    }

    /// A verifier who is gone for this turn: out of the count unless they have voted.
    private mutating func dropVerifier(_ member: MemberID, now: Instant) -> [Event] {
        guard var current = turn, current.verifiers.contains(member), current.votes[member] == nil else { return [] }
        current.verifiers.remove(member)
        turn = current
        return decideIfSettled(now: now)
    }

    /// A verifier's vote on turn `index`: final once cast, secret until the turn is decided.
    public mutating func vote(_ vote: Vote, by member: MemberID, turn index: Int, now: Instant) throws(Failure)
        -> [Event]
    {
        guard presence[member] != nil else { throw .notAMember }
        guard !finished else { throw .sessionFinished }
        guard var current = turn, current.started else { throw .noTurnInProgress }
        guard current.index == index else { throw .wrongTurn }
        guard current.prover != member else { throw .proverCannotVote }
        guard current.verifiers.contains(member) else { throw .notAVerifier }
        guard current.votes[member] == nil else { throw .alreadyVoted }
        current.votes[member] = vote
        turn = current
        return [.voteAccepted(turn: index, verifier: member)] + decideIfSettled(now: now)
    }

    /// A verifier asks for a new challenge for the prover.
    public mutating func requestPrompt(by member: MemberID) throws(Failure) -> [Event] {
        guard presence[member] != nil else { throw .notAMember }
        guard var current = turn, current.started else { throw .noTurnInProgress }
        guard current.verifiers.contains(member) else { throw .notTheVerifier }
        current.prompt = drawPrompt()
        turn = current
        return [.prompt(turn: current.index, prompt: current.prompt)]
    }

    /// Whether `from` may send signalling (offer, answer, candidate, request) to `to` now: only between
    /// the prover and a verifier of the turn in progress.
    public func checkEdge(from: MemberID, to: MemberID) throws(Failure) {
        guard presence[from] != nil, presence[to] != nil else { throw .notAMember }
        guard let current = turn, current.started else { throw .noTurnInProgress }
        let proverToVerifier = from == current.prover && current.verifiers.contains(to)
        let verifierToProver = to == current.prover && current.verifiers.contains(from)
        guard proverToVerifier || verifierToProver else { throw .edgeNotAllowed }
    }

    /// The earliest instant at which ``tick(now:)`` can change anything: the wait for the prover or the
    /// turn's deadline. Nil when nothing is pending.
    public var nextDeadline: Instant? {
        guard !finished, let current = turn else { return nil }
        var deadlines = [current.waitingForProver, current.started ? current.deadline : nil].compactMap { $0 }
        for verifier in current.verifiers where current.votes[verifier] == nil {
            if case .reconnecting(let until) = presence[verifier] { deadlines.append(until) }
        }
        return deadlines.min()
    }

    /// Time passes: the turn's deadline (which a disconnecting prover cannot escape), then the no-show and
    /// reconnect graces.
    public mutating func tick(now: Instant) -> [Event] {
        guard !finished, let current = turn else { return [] }
        if current.started, now >= current.deadline { return finish(decisionAtDeadline(current), now: now) }
        if let waiting = current.waitingForProver, now >= waiting {
            return finish(current.started ? .incomplete : .noShow, now: now)
        }
        var events: [Event] = []
        for verifier in current.verifiers.sorted() {
            guard turn?.index == current.index, case .reconnecting(let until) = presence[verifier], now >= until
            else { continue }
            events += dropVerifier(verifier, now: now)
        }
        return events
    }

    /// Stops starting turns (the node is draining): a running turn goes on to its decision; a turn still
    /// waiting for its prover, and every later one, is left for the session created again elsewhere or
    /// after a restart. Nothing to announce.
    public mutating func hold() {
        holding = true
        if let current = turn, !current.started { turn = nil }
    }

    // MARK: Turns

    private mutating func advance(now: Instant) -> [Event] {
        guard !holding else {
            turn = nil
            return []
        }
        guard nextIndex < order.count else {
            turn = nil
            finished = true
            return [.sessionFinished(results)]
        }
        let prover = order[nextIndex]
        let verifiers = Set(members.filter { $0 != prover && presence[$0] == .joined })
        var next = Turn(
            index: nextIndex, prover: prover, verifiers: verifiers, threshold: verifiers.count / 2 + 1,
            deadline: now + configuration.noShowGrace + configuration.turnDeadline, waitingForProver: nil,
            prompt: drawPrompt(), started: false)
        nextIndex += 1
        if presence[prover] != .joined {
            next.waitingForProver = now + configuration.noShowGrace
            turn = next
            return []
        }
        turn = next
        return start(now: now)
    }

    /// The verifiers are those present when the prover is there to start; the turn's time starts now.
    private mutating func start(now: Instant) -> [Event] {
        guard var current = turn else { return [] }
        current.deadline = now + configuration.turnDeadline
        current.verifiers = Set(members.filter { $0 != current.prover && presence[$0] == .joined })
        current.threshold = current.verifiers.count / 2 + 1
        current.started = true
        turn = current
        return [
            .turnStarted(
                turn: current.index, prover: current.prover, verifiers: current.verifiers, prompt: current.prompt,
                deadline: current.deadline)
        ]
    }

    /// Decided as soon as approvals reach the threshold or denials make it unreachable.
    private mutating func decideIfSettled(now: Instant) -> [Event] {
        guard let current = turn, current.started else { return [] }
        let approvals = current.votes.values.count { $0 == .approve }
        let undecided = current.verifiers.count - current.votes.count
        if approvals >= current.threshold { return finish(.approved, now: now) }
        if approvals + undecided < current.threshold { return finish(.denied, now: now) }
        return []
    }

    private func decisionAtDeadline(_ current: Turn) -> Outcome {
        current.votes.values.count { $0 == .approve } >= current.threshold ? .approved : .denied
    }

    private mutating func finish(_ outcome: Outcome, now: Instant) -> [Event] {
        guard let current = turn else { return [] }
        let result = TurnResult(
            turn: current.index, prover: current.prover, outcome: outcome,
            approvals: current.votes.values.count { $0 == .approve },
            denials: current.votes.values.count { $0 == .deny }, threshold: current.threshold)
        results.append(result)
        votes[current.index] = current.votes
        turn = nil
        // A prover whose turn broke off gets one more turn at the end of the order.
        if outcome == .incomplete, !retried.contains(current.prover) {
            retried.insert(current.prover)
            order.append(current.prover)
        }
        var events: [Event] = []
        if current.started { events.append(.streamStop(turn: current.index, prover: current.prover)) }
        events.append(.turnDecided(result))
        return events + advance(now: now)
    }

    private mutating func drawPrompt() -> String {
        configuration.prompts.randomElement(using: &random)!
    }
}

/// The session's source of randomness, stored as a value (so the session stays a plain value).
struct SessionRandom: RandomNumberGenerator, Sendable {
    private var base: any RandomNumberGenerator & Sendable

    init(_ base: some RandomNumberGenerator & Sendable) { self.base = base }

    mutating func next() -> UInt64 { base.next() }
}
