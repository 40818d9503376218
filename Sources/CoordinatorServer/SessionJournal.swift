import Coordinator
import Logging
import Signalling

/// Makes the votes and decisions of the party's group sessions durable before the sessions announce them
/// (the hub's `journal`): a vote is committed before its `vote-ack`, and a final turn decision (approved,
/// denied, no-show) is recorded as the prover's outcome before its `turn-result`. Sessions created through
/// the session API for other coordinators belong to no party and are not recorded. On a node of a cluster
/// that does not hold the coordinator, records go to the node that does (`forward`) and are committed there
/// before the session announces them.
public struct SessionJournal: Sendable {
    /// Sends a record to the node holding the coordinator; its answer is what ``record(session:_:)`` returned
    /// there. Throws when no holder answers.
    public typealias Forward = @Sendable (_ session: String, _ record: SessionRoom.SessionRecord) async throws -> Bool

    let coordinator: LiveCoordinator
    let forward: Forward?
    /// Seconds a validation lasts.
    let validity: Int64
    let logger: Logger
    let now: @Sendable () -> Int64
    /// How long a record is retried while storage fails, the wait doubling from 50 ms up to 5 s.
    static let patience = Duration.seconds(60)

    public init(
        coordinator: LiveCoordinator, validity: Int64, logger: Logger, forward: Forward? = nil,
        now: @escaping @Sendable () -> Int64
    ) {
        self.coordinator = coordinator
        self.forward = forward
        self.validity = validity
        self.logger = logger
        self.now = now
    }

    /// Records `record` of `session`. True once it is committed, or when it is not the coordinator's to
    /// record (a session of no party) or already recorded; false when storage stayed unavailable for
    /// ``patience``, so the session must not announce it.
    public func record(session: String, _ record: SessionRoom.SessionRecord) async -> Bool {
        await self.record(session: session, record, forwarding: forward, patience: Self.patience)
    }

    /// Records `record` with this node's coordinator only, never passing it on: what the holder does with
    /// records other nodes sent it. False when storage stays away for 20 s (less than the sender waits for
    /// the answer, so the sender asks again rather than both retrying at once).
    public func recordHere(session: String, _ record: SessionRoom.SessionRecord) async -> Bool {
        await self.record(session: session, record, forwarding: nil, patience: .seconds(20))
    }

    private func record(
        session: String, _ record: SessionRoom.SessionRecord, forwarding forward: Forward?, patience: Duration
    ) async -> Bool {
        let deadline = ContinuousClock.now + patience
        var wait = Duration.milliseconds(50)
        while true {
            do {
                if let forward, !coordinator.isHolding {
                    return try await forward(session, record)
                }
                try await coordinator.perform { state in (try changes(for: record, of: session, in: &state), ()) }
                return true
            } catch let error as PartyError {
                if error != .unknownGroup {
                    logger.warning("session record refused", metadata: ["session": "\(session)", "error": "\(error)"])
                }
                return true
            } catch {
                logger.error("session record not stored", metadata: ["session": "\(session)", "error": "\(error)"])
                guard ContinuousClock.now + wait < deadline else { return false }
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(5))
            }
        }
    }

    private func changes(
        for record: SessionRoom.SessionRecord, of session: String, in state: inout CoordinatorState
    ) throws(PartyError) -> [CoordinatorChange] {
        let now = now()
        switch record {
        case .vote(let turn, let verifier, let vote):
            return try state.recordVote(session: session, turn: turn, account: verifier, vote: vote.rawValue, now: now)
        case .turnDecided(let result):
            guard let reference = state.sessions[session] else { throw .unknownGroup }
            guard let outcome = Self.finalOutcome(result.outcome),
                state.parties[reference.party]?.outcomes[result.prover] == nil
            else { return [] }
            return try state.recordOutcome(
                party: reference.party, account: result.prover, outcome: outcome, validity: validity, now: now)
        }
    }

    /// The registrant outcome a turn settles for good; an incomplete turn may be retried later in the session.
    static func finalOutcome(_ outcome: GroupSession.Outcome) -> RegistrantOutcome? {
        switch outcome {
        case .approved: .validated
        case .denied: .failed
        case .noShow: .noShow
        case .incomplete: nil
        }
    }
}
