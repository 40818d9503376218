import Foundation
import Signalling

/// One running group session: the `SessionRoom` value plus its members' outbound queues. The actor
/// performs the room's actions in order: messages and closes go to the queues, revocations to the relay.
actor LiveSession {
    /// What a connection's writer task sends.
    enum Outbound: Sendable {
        case text(String)
        case close(SessionRoom.CloseReason)
    }

    typealias Outlet = AsyncStream<Outbound>.Continuation
    /// Hands the finished session's summary (JSON) to the coordinator's callback; must not block.
    typealias Callback = @Sendable (Data) -> Void

    let id: String
    let members: [String: JoinToken]
    private var room: SessionRoom
    private var outlets: [SessionRoom.ConnectionID: Outlet] = [:]
    private let startAt: ContinuousClock.Instant
    private var begun = false
    private(set) var finishedAt: ContinuousClock.Instant?
    private let revoke: @Sendable (String) async -> Void
    private let callback: Callback?

    init(
        room: SessionRoom, members: [String: JoinToken], startAt: ContinuousClock.Instant,
        revoke: @escaping @Sendable (String) async -> Void, callback: Callback? = nil
    ) {
        id = room.id
        self.room = room
        self.members = members
        self.startAt = startAt
        self.revoke = revoke
        self.callback = callback
    }

    static func now() -> SessionRoom.Time {
        SessionRoom.Time(instant: .now, unixMillis: UInt64(max(0, Date().timeIntervalSince1970 * 1000)))
    }

    func connect(_ member: String, on connection: SessionRoom.ConnectionID, outlet: Outlet) async {
        outlets[connection] = outlet
        await perform(room.connect(member, on: connection, at: Self.now()))
    }

    func disconnect(_ connection: SessionRoom.ConnectionID) async {
        outlets[connection] = nil
        await perform(room.disconnect(connection, at: Self.now()))
    }

    func receive(_ message: ClientMessage, from connection: SessionRoom.ConnectionID) async {
        await perform(room.receive(message, from: connection, at: Self.now()))
    }

    /// Starts the first turn at the start time, then enforces deadlines and graces.
    func tick() async {
        let time = Self.now()
        if !begun, time.instant >= startAt {
            begun = true
            await perform(room.begin(at: time))
        }
        await perform(room.tick(at: time))
    }

    /// State and results for the session API.
    func summary() -> SessionSummary { SessionSummary(room) }

    /// The evidence log with its signed head (once finished).
    func evidence() -> (entries: [EvidenceLog.Entry], signedHead: EvidenceLog.SignedHead?) {
        (room.evidence.entries, room.signedHead)
    }

    private func perform(_ actions: [SessionRoom.Action]) async {
        for action in actions {
            switch action {
            case .send(let connection, let message):
                outlets[connection]?.yield(.text(message.encoded()))
            case .close(let connection, let reason):
                if let outlet = outlets.removeValue(forKey: connection) {
                    outlet.yield(.close(reason))
                    outlet.finish()
                }
            case .revoke(let prefix):
                await revoke(prefix)
            case .finished:
                finishedAt = .now
                if let callback {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = .sortedKeys
                    if let body = try? encoder.encode(SessionSummary(room)) { callback(body) }
                }
            }
        }
    }
}
