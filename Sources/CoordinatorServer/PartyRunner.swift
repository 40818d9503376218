import Coordinator
import Logging
import ServiceLifecycle
import Signalling
import SignallingServer
import Synchronization

/// Runs parties: at a party's start it assigns the groups, creates one signalling session per group through
/// the hub's session-setup API, and records each member's outcome when the group's session finishes. Every
/// step is re-derived from the stored state on each tick, so a restart picks up where the last process
/// stopped (a group whose session was lost gets a new one).
public final class PartyRunner: Service, Sendable {
    let coordinator: LiveCoordinator
    let hub: SignallingHub
    /// Seconds a validation lasts.
    let validity: Int64
    let logger: Logger
    let now: @Sendable () -> Int64
    /// When expiries are next recorded (once a minute: it walks every validation).
    private let expirySweep = Mutex<Int64>(0)

    public init(
        coordinator: LiveCoordinator, hub: SignallingHub, validity: Int64, logger: Logger,
        now: @escaping @Sendable () -> Int64
    ) {
        self.coordinator = coordinator
        self.hub = hub
        self.validity = validity
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
    /// duration (undecided members become no-shows), then give every group of a running party a live session.
    public func tick() async {
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
        for (party, group, members) in groupsNeedingSessions(now: now) {
            await createSession(party: party, group: group, members: members)
        }
    }

    /// Groups of running parties with no live session and no outcome yet.
    private func groupsNeedingSessions(now: Int64) -> [(String, Int, [String])] {
        let undecided = coordinator.read { state in
            state.parties.values.filter { $0.startedAt != nil && $0.party.startsAt + $0.party.duration > now }
                .flatMap { book in
                    book.groups.filter { group in group.members.allSatisfy { book.outcomes[$0] == nil } }
                        .map { (party: book.party.id, group: $0) }
                }
        }
        // The hub is asked outside the coordinator's lock.
        return undecided.filter { $0.group.session.map { hub.summary(of: $0) == nil } ?? true }
            .map { ($0.party, $0.group.index, $0.group.members) }
    }

    private func createSession(party: String, group: Int, members: [String]) async {
        do {
            // The first turn starts once everyone has joined, or after the hub's join window with whoever has.
            let created = try hub.createSession(CreateSessionRequest(members: members))
            let tokens = Dictionary(uniqueKeysWithValues: created.members.map { ($0.member, $0.token) })
            try await coordinator.perform { state in
                (try state.attachSession(party: party, group: group, session: created.session, tokens: tokens), ())
            }
        } catch {
            logger.error(
                "group session not created", metadata: ["party": "\(party)", "group": "\(group)", "error": "\(error)"])
        }
    }

    /// Records the outcomes of a finished group session (the hub's `sessionFinished`).
    public func sessionFinished(_ summary: SessionSummary) async {
        let now = now()
        let party = coordinator.read { state in
            state.parties.values.first { $0.groups.contains { $0.session == summary.session } }?.party.id
        }
        guard let party else { return }
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
