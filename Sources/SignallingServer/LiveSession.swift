import Foundation
import Signalling
import Synchronization

/// One running group session: the `SessionRoom` value and its members' outbound queues behind one lock.
/// Each input is applied and its actions performed in order under the lock, on the caller's task, so a
/// message costs no hop to another executor. Two actions are awaited: a revoke (the relay tears the turn
/// down) and a record (the journal makes a vote or a decision durable). Every later action of the session
/// is held back until the awaited one completes, so `turn-result` never overtakes the stream stop and a
/// `vote-ack` never precedes the vote's commit. A record the journal cannot make durable abandons the
/// session: its held messages are dropped, its members told `storage-unavailable` and disconnected, and
/// the hub forgets it (a party coordinator creates it again).
final class LiveSession: Sendable {
    /// What a connection's writer task sends.
    enum Outbound: Sendable {
        case text(String)
        case close(SessionRoom.CloseReason)
    }

    typealias Outlet = AsyncStream<Outbound>.Continuation
    /// Hands the finished session's summary (JSON) to the coordinator's callback; must not block.
    typealias Callback = @Sendable (Data) -> Void
    /// Makes a session's record durable; returns whether it is (false: given up on).
    typealias Journal = @Sendable (_ session: String, SessionRoom.SessionRecord) async -> Bool

    /// An action whose completion later actions wait for.
    private enum Awaited {
        case revoke(String)
        case record(SessionRoom.SessionRecord)
    }

    /// A connection's outbound queue and how to drop the connection if its client stops reading.
    struct Link: Sendable {
        let outlet: Outlet
        let drop: @Sendable () -> Void
    }

    private struct State: ~Copyable {
        var room: SessionRoom
        var outlets: [SessionRoom.ConnectionID: Link] = [:]
        var begun = false
        var timer: Task<Void, Never>?
        var timerDeadline: ContinuousClock.Instant?
        /// A revoke or record is in flight: actions wait here, in order, until it completes.
        var awaiting = false
        var held: [SessionRoom.Action] = []
        /// The journal failed: inputs are ignored and new connections closed.
        var abandoned = false
    }

    let id: String
    let members: [String: JoinToken]
    private let state: Mutex<State>
    private let startAt: ContinuousClock.Instant
    private let revoke: @Sendable (String) async -> Void
    private let journal: Journal
    private let callback: Callback?
    private let onFinished: @Sendable (SessionSummary) -> Void
    private let onAbandoned: @Sendable (String) -> Void

    init(
        room: SessionRoom, members: [String: JoinToken], startAt: ContinuousClock.Instant,
        revoke: @escaping @Sendable (String) async -> Void, journal: @escaping Journal = { _, _ in true },
        callback: Callback? = nil, onFinished: @escaping @Sendable (SessionSummary) -> Void = { _ in },
        onAbandoned: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        id = room.id
        state = Mutex(State(room: room))
        self.members = members
        self.startAt = startAt
        self.revoke = revoke
        self.journal = journal
        self.callback = callback
        self.onFinished = onFinished
        self.onAbandoned = onAbandoned
    }

    static func now() -> SessionRoom.Time {
        SessionRoom.Time(instant: .now, unixMillis: UInt64(max(0, Date().timeIntervalSince1970 * 1000)))
    }

    func connect(
        _ member: String, on connection: SessionRoom.ConnectionID, outlet: Outlet,
        drop: @escaping @Sendable () -> Void = {}
    ) {
        apply { state, time in
            guard !state.abandoned else {
                Self.refuse(outlet)
                return []
            }
            state.outlets[connection] = Link(outlet: outlet, drop: drop)
            return state.room.connect(member, on: connection, at: time)
        }
    }

    func disconnect(_ connection: SessionRoom.ConnectionID) {
        apply { state, time in
            state.outlets[connection] = nil
            return state.room.disconnect(connection, at: time)
        }
    }

    func receive(_ message: ClientMessage, from connection: SessionRoom.ConnectionID) {
        apply { state, time in state.room.receive(message, from: connection, at: time) }
    }

    /// Starts the first turn at the start time, then enforces deadlines and graces.
    func tick() {
        apply { [startAt] state, time in
            var actions: [SessionRoom.Action] = []
            if !state.begun, time.instant >= startAt {
                state.begun = true
                actions = state.room.begin(at: time)
            }
            return actions + state.room.tick(at: time)
        }
    }

    /// Arms the first timer; called once the session is registered.
    func start() { apply { _, _ in [] } }

    /// Starts no more turns: the node is draining.
    func hold() {
        apply { state, _ in
            state.room.hold()
            return []
        }
    }

    /// State and results for the session API.
    func summary() -> SessionSummary { state.withLock { SessionSummary($0.room) } }

    /// The session's state as its summary names it, without building the summary.
    func stateName() -> String { state.withLock { SessionSummary.state(of: $0.room.group) } }

    /// The running turn (see ``GroupSession/runningTurn``) with its prover's pseudonym.
    func runningTurn() -> (turn: GroupSession.Turn, proverPseudonym: String)? {
        state.withLock { state in
            state.room.group.runningTurn.map { ($0, state.room.group.pseudonyms[$0.prover] ?? "") }
        }
    }

    /// The evidence log with its signed head (once finished).
    func evidence() -> (entries: [EvidenceLog.Entry], signedHead: EvidenceLog.SignedHead?) {
        state.withLock { ($0.room.evidence.entries, $0.room.signedHead) }
    }

    // MARK: Performing actions

    private func apply(_ input: (inout State, SessionRoom.Time) -> [SessionRoom.Action]) {
        let awaited = state.withLock { state -> Awaited? in
            let actions = input(&state, Self.now())
            if state.abandoned { return nil }
            defer { armTimer(&state) }
            if state.awaiting {
                state.held += actions
                return nil
            }
            return perform(actions, in: &state)
        }
        if let awaited { startAwaited(awaited) }
    }

    /// Performs `actions` in order up to the first revoke or record, which it returns; the rest are held.
    /// A connection whose queue is full is closed as too slow and its member counts as dropped.
    private func perform(_ actions: [SessionRoom.Action], in state: inout State) -> Awaited? {
        var queue = actions[...]
        // A broadcast is the same message to every connection in a row: encode it once.
        var lastEncoded: (message: ServerMessage, text: String)?
        while let action = queue.popFirst() {
            switch action {
            case .send(let connection, let message):
                guard let link = state.outlets[connection] else { continue }
                let text = lastEncoded.flatMap { $0.message == message ? $0.text : nil } ?? message.encoded()
                lastEncoded = (message, text)
                if case .dropped = link.outlet.yield(.text(text)) {
                    state.outlets[connection] = nil
                    link.outlet.finish()
                    link.drop()
                    queue.append(contentsOf: state.room.disconnect(connection, at: Self.now()))
                }
            case .close(let connection, let reason):
                if let link = state.outlets.removeValue(forKey: connection) {
                    link.outlet.yield(.close(reason))
                    link.outlet.finish()
                }
            case .revoke(let prefix):
                state.awaiting = true
                state.held = Array(queue)
                return .revoke(prefix)
            case .record(let record):
                state.awaiting = true
                state.held = Array(queue)
                return .record(record)
            case .finished:
                let summary = SessionSummary(state.room)
                onFinished(summary)
                if let callback {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = .sortedKeys
                    if let body = try? encoder.encode(summary) { callback(body) }
                }
            }
        }
        return nil
    }

    /// Revokes at the relay or records in the journal, then releases the held actions (which may hold again
    /// at the next awaited one).
    private func startAwaited(_ first: Awaited) {
        Task {
            var next: Awaited? = first
            while let awaited = next {
                switch awaited {
                case .revoke(let prefix): await revoke(prefix)
                case .record(let record):
                    guard await journal(id, record) else { return abandon() }
                }
                next = state.withLock { state in
                    state.awaiting = false
                    let held = state.held
                    state.held = []
                    defer { armTimer(&state) }
                    return perform(held, in: &state)
                }
            }
        }
    }

    /// Drops the held messages, tells every member the session is lost and disconnects them.
    private func abandon() {
        state.withLock { state in
            state.abandoned = true
            state.held = []
            state.timer?.cancel()
            state.timer = nil
            for link in state.outlets.values { Self.refuse(link.outlet) }
            state.outlets = [:]
        }
        onAbandoned(id)
    }

    private static func refuse(_ outlet: Outlet) {
        let error = ServerMessage.error(code: "storage-unavailable", message: "the session's votes cannot be recorded")
        outlet.yield(.text(error.encoded()))
        outlet.yield(.close(.storageUnavailable))
        outlet.finish()
    }

    /// Keeps one timer task armed for the session's next deadline (the start, a grace or a turn's end),
    /// so an idle session costs nothing between deadlines.
    private func armTimer(_ state: inout State) {
        let next =
            state.abandoned
            ? nil : [state.begun ? nil : startAt, state.room.group.nextDeadline].compactMap { $0 }.min()
        guard next != state.timerDeadline else { return }
        state.timer?.cancel()
        state.timerDeadline = next
        guard let next else {
            state.timer = nil
            return
        }
        state.timer = Task { [weak self] in
            guard (try? await Task.sleep(until: next)) != nil, let self else { return }
            self.state.withLock { $0.timerDeadline = nil }
            self.tick()
        }
    }
}
