extension CoordinatorState {
    /// Applies a stored change without re-checking the rules that admitted it.
    mutating func replay(_ change: CoordinatorChange) throws(InconsistentRows) {
        switch change {
        case .accountCreated(let account):
            accounts[account.id] = account
        case .partyCreated(let party, let seed):
            parties[party.id] = PartyBook(party: party, seed: seed)
        case .registered(let registration):
            guard parties[registration.party] != nil else { throw InconsistentRows(reason: "registration's party") }
            parties[registration.party]!.registrations[registration.account] = registration
            // Placed even if a closer one exists: it was spaced under the rules when it was made.
            _ = parties[registration.party]!.spacing.insert(
                registration.account, at: registration.location, checkingSpacing: false)
        case .deregistered(let party, let account):
            parties[party]?.registrations[account] = nil
            parties[party]?.spacing.remove(account)
        case .ledgerEntry:
            throw InconsistentRows(reason: "ledger entries are loaded into the books, not replayed")
        case .partyStarted(let party, let groups, let families, let at):
            guard parties[party] != nil else { throw InconsistentRows(reason: "started party") }
            parties[party]!.startedAt = at
            parties[party]!.families = families
            parties[party]!.groups = groups.enumerated().map { PartyGroup(index: $0.offset, members: $0.element) }
            parties[party]!.placed = parties[party]!.registrations.count
            parties[party]!.assignedGroups = groups.count
        case .groupEvent(let event):
            guard parties[event.party]?.groupEvents == event.sequence else {
                throw InconsistentRows(reason: "group event order")
            }
            try applyGroupEvent(event)
        case .groupSession(let party, let group, let session, let tokens):
            guard parties[party]?.groups.indices.contains(group) == true else {
                throw InconsistentRows(reason: "group session")
            }
            parties[party]!.groups[group].session = session
            parties[party]!.groups[group].tokens = tokens
            sessions[session] = GroupReference(party: party, group: group)
        case .outcome(let party, let account, let outcome, _):
            guard parties[party] != nil else { throw InconsistentRows(reason: "outcome's party") }
            parties[party]!.outcomes[account] = outcome
            parties[party]!.waiting.remove(account)
        case .vote:
            // Votes are written for the record and read from storage, not held in memory.
            break
        case .validation(let validation):
            registry.validations[validation.account] = validation
        case .linkDeclared(let link):
            registry.links[link.managed] = link
            registry.managedBy[link.controller, default: []].insert(link.managed)
        case .linkWithdrawn(let controller, let managed):
            registry.links[managed] = nil
            registry.managedBy[controller]?.remove(managed)
        case .challenge(let challenge):
            registry.challenges[challenge.id] = challenge
        case .registryEvent(let event, let position):
            guard registry.history[event.account, default: []].count == position else {
                throw InconsistentRows(reason: "registry history order")
            }
            registry.history[event.account, default: []].append(event)
        }
    }
}
