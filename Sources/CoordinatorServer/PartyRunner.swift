import Coordinator
import Logging
import ServiceLifecycle
import Signalling
import Synchronization

/// Runs parties: at a party's start it assigns the groups, creates one signalling session per group through
/// a session host's setup API (``SessionHost``: this node's hub), and records each member's outcome when
/// the group's session finishes. A group with fewer than `minimumPresent` members there at its start is
/// closed: its absent members are no-shows and its present ones are placed, once every group of the party
/// has begun, in new groups with the others waiting (unplaced, deposit back, when too few wait). Every step is re-derived from the stored state on each
/// tick, so a restart picks up where the last process stopped (a group whose session was lost gets a new one,
/// in which members with an outcome only verify). Only a coordinator that holds its storage runs parties.
public final class PartyRunner: Service, Sendable {
    let coordinator: LiveCoordinator
    let sessionHost: any SessionHost
    /// Seconds a validation lasts.
    let validity: Int64
    /// Fewest members present at a group's start for its turns to run.
    let minimumPresent: Int
    let logger: Logger
    let now: @Sendable () -> Int64
    /// When expiries are next recorded (once a minute: it walks every validation).
    private let expirySweep = Mutex<Int64>(0)

    public init(
        coordinator: LiveCoordinator, sessionHost: any SessionHost, validity: Int64, minimumPresent: Int = 4,
        logger: Logger,
        now: @escaping @Sendable () -> Int64
    ) {
        self.coordinator = coordinator
        self.sessionHost = sessionHost
        self.validity = validity
        self.minimumPresent = minimumPresent
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await tick()
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// One pass: start the parties that are due, record validations that have expired, end parties past their
    /// duration (undecided members become no-shows), regroup members of undersized groups, then give every
    /// group of a running party a live session.
    public func tick() async {
        // A node of a cluster that stands by leaves the parties to the node holding the coordinator.
        guard coordinator.isHolding else { return }
        let now = now()
        let due = coordinator.read { state in
            state.parties.values.filter { $0.startedAt == nil && $0.party.startsAt <= now }.map(\.party.id)
        }
        for party in due {
            do {
                try await coordinator.perform { state in (try state.startParty(party, now: now), ()) }
            } catch {
                logger.error("party start failed", metadata: ["party": "\(party)", "error": "\(error)"])
            }
        }
        do {
            let sweepExpiries = expirySweep.withLock { next -> Bool in
                guard now >= next else { return false }
                next = now + 60
                return true
            }
            if sweepExpiries {
                try await coordinator.perform { state in (state.recordExpiries(now: now), ()) }
            }
            try await coordinator.perform { state in (try state.closeEndedParties(now: now), ()) }
        } catch {
            logger.error("party sweep failed", metadata: ["error": "\(error)"])
        }
        await regroupWaitingMembers(now: now)
        for group in await groupsNeedingSessions(now: now) {
            await createSession(group)
        }
    }

    /// A group that needs a session, and the members who still have to prove.
    private struct OpenGroup {
        let party: String
        let index: Int
        let members: [String]
        let provers: [String]
        let session: String?
    }

    /// Groups of running parties, not closed as undersized, with a member who has no outcome yet.
    private func openGroups(now: Int64) -> [OpenGroup] {
        coordinator.read { state in
            state.parties.values.filter { $0.startedAt != nil && $0.party.startsAt + $0.party.duration > now }
                .flatMap { book in
                    book.groups.compactMap { group in
                        let provers = group.members.filter { book.outcomes[$0] == nil }
                        guard !group.undersized, !provers.isEmpty else { return nil }
                        return OpenGroup(
                            party: book.party.id, index: group.index, members: group.members, provers: provers,
                            session: group.session)
                    }
                }
        }
    }

    /// Open groups whose session is not live on the session host (asked outside the coordinator's lock).
    private func groupsNeedingSessions(now: Int64) async -> [OpenGroup] {
        var needing: [OpenGroup] = []
        for group in openGroups(now: now) {
            guard let session = group.session else {
                needing.append(group)
                continue
            }
            do {
                if try await sessionHost.summary(of: session) == nil { needing.append(group) }
            } catch {
                logger.warning("session host unreachable", metadata: ["session": "\(session)", "error": "\(error)"])
            }
        }
        return needing
    }

    /// Once no group of a party is still gathering its members, places the members waiting for a new group;
    /// settles them as unplaced when too few wait or too little of the party is left for a new group.
    private func regroupWaitingMembers(now: Int64) async {
        let waiting = coordinator.read { state in
            state.parties.values.filter { !$0.waiting.isEmpty }.map {
                (party: $0.party.id, groupSize: $0.party.groupSize, end: $0.party.startsAt + $0.party.duration)
            }
        }
        guard !waiting.isEmpty else { return }
        // Gathering: no live session yet, not begun, or ended undersized with its result not yet recorded.
        var gathering = Set<String>()
        for group in openGroups(now: now) where !gathering.contains(group.party) {
            // A session the host cannot report on counts as gathering: regrouping waits for it.
            var state: String?
            if let session = group.session { state = try? await sessionHost.summary(of: session)?.state }
            if state == nil || state == "waiting" || state == "undersized" { gathering.insert(group.party) }
        }
        for party in waiting where !gathering.contains(party.party) {
            let minimum = min(minimumPresent, party.groupSize)
            let timeLeft = party.end - now >= regroupingTime(groupSize: party.groupSize)
            do {
                try await coordinator.perform { state in
                    let regrouped = timeLeft ? state.regroup(party: party.party, minimum: minimum, now: now) : []
                    return (regrouped.isEmpty ? state.settleUnplaced(party: party.party, now: now) : regrouped, ())
                }
            } catch {
                logger.error("regrouping failed", metadata: ["party": "\(party.party)", "error": "\(error)"])
            }
        }
    }

    /// Seconds a new group needs at most: the join window, then each member's turn with its no-show grace.
    private func regroupingTime(groupSize: Int) -> Int64 {
        let rules = sessionHost.sessionRules
        let perTurn = rules.noShowGrace + rules.turnDeadline
        return (sessionHost.joinWindow + perTurn * (groupSize + 1)).components.seconds
    }

    private func createSession(_ group: OpenGroup) async {
        let party = group.party
        let index = group.index
        do {
            // The first turn starts once everyone has joined, or after the host's join window with whoever has.
            let request = CreateSessionRequest(
                members: group.members, provers: group.provers.count == group.members.count ? nil : group.provers,
                options: .init(minimumPresent: min(minimumPresent, group.members.count)))
            let created = try await sessionHost.createSession(request)
            let tokens = Dictionary(uniqueKeysWithValues: created.members.map { ($0.member, $0.token) })
            try await coordinator.perform { state in
                (try state.attachSession(party: party, group: index, session: created.session, tokens: tokens), ())
            }
        } catch {
            logger.error(
                "group session not created", metadata: ["party": "\(party)", "group": "\(index)", "error": "\(error)"])
        }
    }

    /// Records the outcomes of a finished group session (the host's `sessionFinished`), or closes its group
    /// when too few were present.
    public func sessionFinished(_ summary: SessionSummary) async {
        let now = now()
        guard let reference = coordinator.read({ $0.sessions[summary.session] }) else { return }
        let party = reference.party
        if summary.state == "undersized" {
            do {
                try await coordinator.perform { state in
                    let changes = try state.closeUndersizedGroup(
                        party: party, group: reference.group, present: summary.present ?? [], now: now)
                    return (changes, ())
                }
            } catch {
                logger.error("undersized group not closed", metadata: ["party": "\(party)", "error": "\(error)"])
            }
            return
        }
        let outcomes = summary.members.map { member -> (String, RegistrantOutcome) in
            switch member.outcome {
            case .approved: (member.member, .validated)
            case .denied, .incomplete: (member.member, .failed)
            case .noShow, nil: (member.member, .noShow)
            }
        }
        // One operation for the whole group: a crash cannot leave it half decided.
        do {
            try await coordinator.perform { state in
                var changes: [CoordinatorChange] = []
                for (account, outcome) in outcomes where state.parties[party]?.outcomes[account] == nil {
                    changes += try state.recordOutcome(
                        party: party, account: account, outcome: outcome, validity: validity, now: now)
                }
                return (changes, ())
            }
        } catch {
            logger.error("outcomes not recorded", metadata: ["party": "\(party)", "error": "\(error)"])
        }
    }
}
