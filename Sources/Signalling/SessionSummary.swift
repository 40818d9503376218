/// A session's state and results as the coordinator reads them (member ids included; the group only
/// ever sees pseudonyms).
public struct SessionSummary: Sendable, Hashable, Codable {
    public struct Member: Sendable, Hashable, Codable {
        public let member: String
        public let pseudonym: String
        /// `joined`, `reconnecting` or `absent`.
        public let presence: String
        public let outcome: GroupSession.Outcome?
    }

    public struct Result: Sendable, Hashable, Codable {
        public let turn: Int
        public let member: String
        public let pseudonym: String
        public let outcome: GroupSession.Outcome
        public let approvals: Int
        public let denials: Int
        public let threshold: Int
    }

    public let session: String
    /// `waiting` (no turn yet), `running`, `finished`, or `undersized` (too few present at the start).
    public let state: String
    /// When undersized: the members who were present, to be placed in a new group.
    public let present: [String]?
    /// The turn in progress, if any.
    public let turn: Int?
    /// The member proving in the turn in progress, if any.
    public let prover: String?
    public let members: [Member]
    public let results: [Result]
    public let evidenceEntries: Int
    public let evidenceHead: String
    public let signedHead: EvidenceLog.SignedHead?

    /// `waiting`, `running`, `finished` or `undersized`.
    public static func state(of group: GroupSession) -> String {
        group.undersized != nil
            ? "undersized"
            : group.finished ? "finished" : group.turn == nil && group.results.isEmpty ? "waiting" : "running"
    }

    public init(_ room: SessionRoom) {
        let group = room.group
        session = room.id
        state = Self.state(of: group)
        present = group.undersized
        turn = group.turn?.index
        prover = group.turn?.prover
        members = group.members.map { member in
            let presence =
                switch group.presence[member] {
                case .joined: "joined"
                case .reconnecting: "reconnecting"
                default: "absent"
                }
            return Member(
                member: member, pseudonym: group.pseudonyms[member] ?? "", presence: presence,
                outcome: room.outcome(of: member))
        }
        results = group.results.map {
            Result(
                turn: $0.turn, member: $0.prover, pseudonym: group.pseudonyms[$0.prover] ?? "", outcome: $0.outcome,
                approvals: $0.approvals, denials: $0.denials, threshold: $0.threshold)
        }
        evidenceEntries = room.evidence.entries.count
        evidenceHead = room.evidence.head
        signedHead = room.signedHead
    }
}
