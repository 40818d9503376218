/// How a registrant's party ended.
public enum RegistrantOutcome: String, Sendable, Hashable, Codable {
    case validated, failed
    case noShow = "no-show"
    /// Present, but too few others were present to form a group: the deposit comes back whole.
    case unplaced
}

/// One group of a started party: its members in assignment order and its signalling session.
public struct PartyGroup: Sendable, Hashable, Codable {
    public let index: Int
    public let members: [String]
    public internal(set) var session: String?
    /// Each member's join token for the session.
    public internal(set) var tokens: [String: String] = [:]
    /// Too few members were present at its start: its absent members are no-shows, the present ones were
    /// placed in a new group.
    public internal(set) var undersized = false

    public init(index: Int, members: [String], session: String? = nil, tokens: [String: String] = [:]) {
        self.index = index
        self.members = members
        self.session = session
        self.tokens = tokens
    }
}

/// Why a party step was refused; the raw value is the API's error code. Nothing changed.
public enum PartyError: String, Error, Sendable, Hashable {
    case unknownParty = "party-not-found"
    case notStarted = "party-not-started"
    case alreadyStarted = "party-already-started"
    case unknownGroup = "group-not-found"
    case notRegistered = "not-registered"
    case alreadyDecided = "outcome-already-recorded"
}

extension CoordinatorState {
    /// Assigns `party`'s registrants to groups at its start with the revealed seed (``Assignment``), keeping
    /// accounts of one family (a controller and the accounts it manages) apart.
    public mutating func startParty(_ partyID: String, now: Int64) throws(PartyError) -> [CoordinatorChange] {
        let family: [String: String]
        let groups: [[String]]
        do {
            guard let book = parties[partyID] else { throw .unknownParty }
            guard now >= book.party.startsAt else { throw .notStarted }
            guard book.startedAt == nil else { throw .alreadyStarted }
            let accounts = Array(book.registrations.keys)
            family = families(of: accounts)
            groups = Assignment.groups(
                accounts: accounts, seed: book.seed, groupSize: book.party.groupSize, family: family)
        }
        return applyStart(partyID, groups: groups, families: family, at: now)
    }

    /// The assignment families among `accounts`: each linked account maps to its controller.
    public func families(of accounts: [String]) -> [String: String] {
        var family: [String: String] = [:]
        for account in accounts {
            if let link = registry.links[account] {
                family[account] = link.controller
            } else if !(registry.managedBy[account]?.isEmpty ?? true) {
                family[account] = account
            }
        }
        return family
    }

    mutating func applyStart(_ partyID: String, groups: [[String]], families: [String: String], at now: Int64)
        -> [CoordinatorChange]
    {
        parties[partyID]!.startedAt = now
        parties[partyID]!.families = families
        parties[partyID]!.groups = groups.enumerated().map { PartyGroup(index: $0.offset, members: $0.element) }
        parties[partyID]!.placed = parties[partyID]!.registrations.count
        parties[partyID]!.assignedGroups = groups.count
        var changes: [CoordinatorChange] = [.partyStarted(party: partyID, groups: groups, families: families, at: now)]
        // Too few registrants for any group: unplaced, their deposits come back, no fault of theirs.
        let placed = Set(groups.joined())
        for account in parties[partyID]!.registrations.keys.sorted() where !placed.contains(account) {
            changes +=
                (try? recordOutcome(party: partyID, account: account, outcome: .unplaced, validity: 0, now: now))
                ?? []
        }
        return changes
    }

    /// Ends every party past its duration: members still waiting for a new group are unplaced, other placed
    /// members with no outcome yet become no-shows (their group's session never reported, for instance
    /// because the server was down).
    public mutating func closeEndedParties(now: Int64) throws(PartyError) -> [CoordinatorChange] {
        let ended = parties.values.filter {
            $0.startedAt != nil && now >= $0.party.startsAt + $0.party.duration && $0.outcomes.count < $0.placed
        }.map(\.party.id)
        var changes: [CoordinatorChange] = []
        for party in ended {
            changes += settleUnplaced(party: party, now: now)
            // Placed, registered and undecided: recording cannot be refused.
            for account in parties[party]!.groups.flatMap(\.members) where parties[party]!.outcomes[account] == nil {
                changes +=
                    (try? recordOutcome(party: party, account: account, outcome: .noShow, validity: 0, now: now)) ?? []
            }
        }
        return changes
    }

    /// Records the signalling session created for a group and its members' join tokens.
    public mutating func attachSession(party partyID: String, group: Int, session: String, tokens: [String: String])
        throws(PartyError) -> [CoordinatorChange]
    {
        guard let book = parties[partyID] else { throw .unknownParty }
        guard book.groups.indices.contains(group) else { throw .unknownGroup }
        if let old = book.groups[group].session { sessions[old] = nil }
        parties[partyID]!.groups[group].session = session
        parties[partyID]!.groups[group].tokens = tokens
        sessions[session] = GroupReference(party: partyID, group: group)
        return [.groupSession(party: partyID, group: group, session: session, tokens: tokens)]
    }

    /// Records how `account`'s party ended: a validation (valid for `validity` seconds) and its deposit back,
    /// or the party's slash fraction of the deposit taken for a failure or a no-show.
    public mutating func recordOutcome(
        party partyID: String, account: String, outcome: RegistrantOutcome, validity: Int64, now: Int64
    ) throws(PartyError) -> [CoordinatorChange] {
        do {
            guard let book = parties[partyID] else { throw .unknownParty }
            guard book.startedAt != nil else { throw .notStarted }
            guard book.registrations[account] != nil else { throw .notRegistered }
            guard book.outcomes[account] == nil else { throw .alreadyDecided }
        }
        parties[partyID]!.outcomes[account] = outcome
        parties[partyID]!.waiting.remove(account)
        var changes: [CoordinatorChange] = [.outcome(party: partyID, account: account, outcome: outcome, at: now)]
        switch outcome {
        case .validated:
            let wasValidated = isValidated(account, now: now)
            let validation = Validation(account: account, party: partyID, validatedAt: now, expires: now + validity)
            registry.validations[account] = validation
            changes.append(.validation(validation))
            changes.append(record(RegistryEvent(account: account, kind: .validated, at: now, subject: partyID)))
            // A controller validated again lifts the accounts it manages back to managed.
            if !wasValidated { changes += recordManagedFollow(account, kind: .controllerValidated, at: now) }
        case .unplaced:
            break
        case .failed, .noShow:
            changes.append(
                record(
                    RegistryEvent(
                        account: account, kind: outcome == .failed ? .failed : .noShow, at: now, subject: partyID)))
        }
        return changes + settle(account, party: partyID, slash: outcome == .failed || outcome == .noShow)
    }

    /// Releases `account`'s deposit for `party`, or slashes the party's fraction of it.
    mutating func settle(_ account: String, party partyID: String, slash: Bool) -> [CoordinatorChange] {
        guard ledger.balance(.locked(holder: account, party: partyID)) > 0 else { return [] }
        let before = ledger.entries.count
        let permille = slash ? Int64(parties[partyID]!.party.slashPermille) : 0
        // The lock exists (checked above) and the fraction is within 0...1000: the ledger cannot refuse.
        _ = try? ledger.slash(holder: account, party: partyID, numerator: permille, denominator: 1000)
        return ledger.entries[before...].map { .ledgerEntry($0) }
    }
}
