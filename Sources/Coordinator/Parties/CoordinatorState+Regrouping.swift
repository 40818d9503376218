import Crypto
import Foundation

extension CoordinatorState {
    /// `group`'s session found fewer members `present` than the minimum at its start: its absent members
    /// without an outcome become no-shows, its present ones without an outcome wait for a new group
    /// (``regroup(party:minimum:now:)``).
    public mutating func closeUndersizedGroup(party partyID: String, group: Int, present: [String], now: Int64)
        throws(PartyError) -> [CoordinatorChange]
    {
        let members: [String]
        do {
            guard let book = parties[partyID] else { throw .unknownParty }
            guard book.startedAt != nil else { throw .notStarted }
            guard book.groups.indices.contains(group), !book.groups[group].undersized else { throw .unknownGroup }
            members = book.groups[group].members
        }
        let here = Set(present)
        let undecided = members.filter { parties[partyID]!.outcomes[$0] == nil }
        let event = GroupEvent(
            party: partyID, sequence: parties[partyID]!.groupEvents, kind: .undersized, group: group,
            members: [undecided.filter(here.contains)], at: now)
        try? applyGroupEvent(event)
        var changes: [CoordinatorChange] = [.groupEvent(event)]
        // Placed, registered and undecided (checked above): recording cannot be refused.
        for account in undecided where !here.contains(account) {
            changes +=
                (try? recordOutcome(party: partyID, account: account, outcome: .noShow, validity: 0, now: now))
                ?? []
        }
        return changes
    }

    /// Places the members waiting in `party` into new groups, by the party's assignment rule (``Assignment``,
    /// families apart) keyed by ``regroupSeed(_:sequence:)``; nothing while fewer than `minimum` wait.
    public mutating func regroup(party partyID: String, minimum: Int, now: Int64) -> [CoordinatorChange] {
        guard let book = parties[partyID], book.startedAt != nil, book.waiting.count >= max(minimum, 1) else {
            return []
        }
        let waiting = Array(book.waiting)
        let family = book.families.filter { book.waiting.contains($0.key) }
        let groups = Assignment.groups(
            accounts: waiting, seed: Self.regroupSeed(book.seed, sequence: book.groupEvents),
            groupSize: book.party.groupSize, minimum: minimum, family: family)
        guard !groups.isEmpty else { return [] }
        let event = GroupEvent(
            party: partyID, sequence: book.groupEvents, kind: .regrouped, group: book.groups.count, members: groups,
            at: now)
        try? applyGroupEvent(event)
        return [.groupEvent(event)]
    }

    /// Ends the wait of `party`'s waiting members when no group can be formed for them: present, so their
    /// outcome is unplaced and their deposit comes back whole.
    public mutating func settleUnplaced(party partyID: String, now: Int64) -> [CoordinatorChange] {
        guard let waiting = parties[partyID]?.waiting.sorted() else { return [] }
        return waiting.flatMap { account in
            (try? recordOutcome(party: partyID, account: account, outcome: .unplaced, validity: 0, now: now)) ?? []
        }
    }

    /// The seed of the regrouping numbered `sequence`: SHA-256 of `partyline-regroup-v1`, the party's
    /// revealed seed and the sequence number as eight big-endian bytes.
    public static func regroupSeed(_ seed: [UInt8], sequence: Int) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Data("partyline-regroup-v1".utf8))
        hasher.update(data: seed)
        hasher.update(data: withUnsafeBytes(of: UInt64(sequence).bigEndian) { Data($0) })
        return Array(hasher.finalize())
    }

    /// Applies a group event to the party's groups and waiting members.
    mutating func applyGroupEvent(_ event: GroupEvent) throws(InconsistentRows) {
        guard parties[event.party] != nil else { throw InconsistentRows(reason: "group event's party") }
        switch event.kind {
        case .undersized:
            guard parties[event.party]!.groups.indices.contains(event.group), let present = event.members.first else {
                throw InconsistentRows(reason: "undersized group")
            }
            parties[event.party]!.groups[event.group].undersized = true
            parties[event.party]!.waiting.formUnion(present)
        case .regrouped:
            guard parties[event.party]!.groups.count == event.group else {
                throw InconsistentRows(reason: "regrouped group index")
            }
            for members in event.members {
                parties[event.party]!.groups.append(
                    PartyGroup(index: parties[event.party]!.groups.count, members: members))
                parties[event.party]!.waiting.subtract(members)
            }
        }
        parties[event.party]!.groupEvents += 1
    }

    /// Records a verifier's vote in a group's session, before the verifier learns it counts.
    public mutating func recordVote(session: String, turn: Int, account: String, vote: String, now: Int64)
        throws(PartyError) -> [CoordinatorChange]
    {
        guard let reference = sessions[session] else { throw .unknownGroup }
        guard parties[reference.party]?.groups[reference.group].members.contains(account) == true else {
            throw .notRegistered
        }
        return [
            .vote(
                CastVote(
                    party: reference.party, group: reference.group, session: session, turn: turn, account: account,
                    vote: vote, at: now))
        ]
    }
}
