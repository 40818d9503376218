extension SessionRoom {
    /// Turns the group's events into evidence entries and messages.
    mutating func apply(_ events: [GroupSession.Event], at time: Time, castVote: GroupSession.Vote? = nil)
        -> [Action]
    {
        var actions: [Action] = []
        for event in events {
            switch event {
            case .turnStarted(let turn, let prover, let verifiers, let prompt, _):
                let names = verifiers.sorted().joined(separator: ",")
                record("turn-start", "turn=\(turn) prover=\(prover) verifiers=\(names) prompt=\(prompt)", time)
                for (member, connection) in connections {
                    if let view = turnView(for: member, at: time) {
                        actions.append(.send(connection, .turnStart(view)))
                    }
                }
            case .prompt(let turn, let prompt):
                record("prompt", "turn=\(turn) prompt=\(prompt)", time)
                guard let current = group.turn else { break }
                for member in current.verifiers.union([current.prover]) {
                    if let connection = connections[member] {
                        actions.append(.send(connection, .prompt(turn: turn, text: prompt)))
                    }
                }
            case .voteAccepted(let turn, let verifier):
                let vote = castVote?.rawValue ?? "?"
                record("vote", "turn=\(turn) verifier=\(verifier) vote=\(vote)", time)
                if let castVote {
                    actions.append(.record(.vote(turn: turn, verifier: verifier, vote: castVote)))
                    if let connection = connections[verifier] {
                        actions.append(.send(connection, .voteAck(turn: turn, vote: castVote)))
                    }
                }
            case .streamStop(let turn, let prover):
                record("stream-stop", "turn=\(turn) prover=\(prover)", time)
                actions += broadcast(.streamStop(turn: turn, prover: pseudonym(prover)))
                actions.append(.revoke(subjectPrefix: "\(id)/\(turn)"))
            case .turnDecided(let result):
                record(
                    "decision",
                    "turn=\(result.turn) prover=\(result.prover) outcome=\(result.outcome.rawValue) "
                        + "approvals=\(result.approvals) denials=\(result.denials) threshold=\(result.threshold)", time)
                actions.append(.record(.turnDecided(result)))
                actions += broadcast(.turnResult(view(of: result)))
            case .undersized(let present):
                record("undersized", "present=\(present.joined(separator: ","))", time)
                actions += broadcast(
                    .undersized(present: present.count, minimum: group.configuration.minimumPresent))
            case .sessionFinished:
                let outcomes = memberResults().map { "\($0.pseudonym)=\($0.outcome.rawValue)" }.joined(separator: ",")
                record("finished", "results=\(outcomes)", time)
                signedHead = try? evidence.signHead(with: signingKey)
                actions += broadcast(.sessionResult(memberResults()))
                actions.append(.revoke(subjectPrefix: id))
                actions += connections.values.map { .close($0, .finished) }
                connections = [:]
                memberOf = [:]
                actions.append(.finished)
            }
        }
        return actions
    }

    private mutating func record(_ kind: String, _ detail: String, _ time: Time) {
        evidence.append(kind: kind, detail: detail, time: time.unixMillis)
    }

    func broadcast(_ message: ServerMessage) -> [Action] {
        connections.values.map { .send($0, message) }
    }

    /// Tells the other members that `member`'s presence changed.
    func announce(_ member: MemberID, state: String) -> [Action] {
        connections.compactMap {
            $0.key == member ? nil : .send($0.value, .presence(pseudonym: pseudonym(member), state: state))
        }
    }

    func pseudonym(_ member: MemberID) -> String { group.pseudonyms[member] ?? "" }

    /// The turn in progress as `member` sees it; credentials only for its prover and verifiers.
    func turnView(for member: MemberID, at time: Time) -> TurnView? {
        guard let turn = group.turn, turn.started else { return nil }
        let role: Role = member == turn.prover ? .prover : turn.verifiers.contains(member) ? .verifier : .observer
        let left = turn.deadline - time.instant
        // The subject names the member by pseudonym: a TURN username is seen by the relay and on the wire,
        // and members are only ever named by pseudonym there.
        let subject = "\(id)/\(turn.index)/\(pseudonym(member))"
        let verifierIceServers =
            role == .prover
            ? Dictionary(
                uniqueKeysWithValues: turn.verifiers.map { verifier in
                    (pseudonym(verifier), iceServers("\(subject)/\(pseudonym(verifier))"))
                }) : nil
        return TurnView(
            turn: turn.index, prover: pseudonym(turn.prover), verifiers: turn.verifiers.map(pseudonym).sorted(),
            role: role, prompt: turn.prompt, threshold: turn.threshold,
            timeLeftMillis: max(
                0, Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)),
            voted: turn.votes[member] != nil,
            iceServers: iceServers(role == .observer ? nil : subject), verifierIceServers: verifierIceServers)
    }

    func welcome(for member: MemberID, resumed: Bool, at time: Time) -> Welcome {
        let turn = turnView(for: member, at: time)
        return Welcome(
            version: Self.protocolVersion, session: id, you: pseudonym(member),
            roster: group.pseudonyms.values.sorted(), order: group.order.map(pseudonym),
            iceServers: turn?.iceServers ?? iceServers(nil), resumed: resumed, turn: turn,
            results: group.results.map(view(of:)))
    }

    func view(of result: GroupSession.TurnResult) -> TurnResultView {
        TurnResultView(
            turn: result.turn, prover: pseudonym(result.prover), outcome: result.outcome, approvals: result.approvals,
            denials: result.denials, threshold: result.threshold)
    }

    /// Each member's outcome: approved if any of their turns was, otherwise their last turn's.
    public func outcome(of member: MemberID) -> GroupSession.Outcome? {
        let turns = group.results.filter { $0.prover == member }
        return turns.contains { $0.outcome == .approved } ? .approved : turns.last?.outcome
    }

    func memberResults() -> [MemberResult] {
        group.members.compactMap { member in
            outcome(of: member).map { MemberResult(pseudonym: pseudonym(member), outcome: $0) }
        }.sorted { $0.pseudonym < $1.pseudonym }
    }
}
