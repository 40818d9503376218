/// The coordinator's authoritative state as a plain value: accounts, parties with their registrations and
/// spacing grids, and the deposit ledger. Every operation either throws and changes nothing, or applies and
/// returns the ``CoordinatorChange``s storage must make durable before the caller acknowledges it.
public struct CoordinatorState: Sendable {
    /// A party with its registrations and its spacing grid.
    public struct PartyBook: Sendable {
        public let party: Party
        let seed: [UInt8]
        public internal(set) var registrations: [String: Registration] = [:]
        var spacing: SpacingIndex<String>
        /// When the groups were assigned; nil before the start.
        public internal(set) var startedAt: Int64?
        /// The groups of the start, then those formed by regrouping, by index.
        public internal(set) var groups: [PartyGroup] = []
        /// Groups formed at the start (the published assignment); later ones come from regrouping.
        public internal(set) var assignedGroups = 0
        /// Registrants at the start; the party is decided once each has an outcome.
        public internal(set) var placed = 0
        /// Members present in an undersized group, waiting to be placed in a new one.
        public internal(set) var waiting: Set<String> = []
        /// Group events so far (undersized groups, regroupings): the next one's sequence number.
        public internal(set) var groupEvents = 0
        /// The families the assignment kept apart (account → controller), as they were at the start.
        public internal(set) var families: [String: String] = [:]
        public internal(set) var outcomes: [String: RegistrantOutcome] = [:]

        init(party: Party, seed: [UInt8]) {
            self.party = party
            self.seed = seed
            spacing = SpacingIndex(spacing: party.minimumDistance)
        }

        /// The assignment seed once the party has started (nil before, so nobody learns it early).
        public func revealedSeed(now: Int64) -> [UInt8]? { now >= party.startsAt ? seed : nil }
    }

    /// Where a signalling session belongs.
    public struct GroupReference: Sendable, Hashable {
        public let party: String
        public let group: Int
    }

    /// Why stored rows could not be replayed into a state.
    public struct InconsistentRows: Error, Sendable, Hashable {
        public let reason: String
    }

    public internal(set) var accounts: [String: AccountRecord] = [:]
    public internal(set) var parties: [String: PartyBook] = [:]
    /// The group of each signalling session attached to one.
    public internal(set) var sessions: [String: GroupReference] = [:]
    public internal(set) var ledger: any DepositLedger
    /// Validations, declarations of management, challenges and every account's history.
    public internal(set) var registry = RegistryBook()

    public init(ledger: any DepositLedger = DepositBook()) { self.ledger = ledger }

    /// The state stored rows describe: the ledger's entries, and every other row as the change that made it,
    /// replayed in order (parents before children). Rules are not re-checked: the rows were accepted once.
    public init(ledgerEntries: [DepositBook.Entry], replaying changes: [CoordinatorChange]) throws(InconsistentRows) {
        guard let book = DepositBook(entries: ledgerEntries) else { throw InconsistentRows(reason: "ledger") }
        self.init(ledger: book)
        for change in changes { try replay(change) }
    }

    // MARK: Accounts

    /// Records `key`'s account on its first login; no change when it is known.
    public mutating func recordAccount(_ key: AccountKey, now: Int64) -> [CoordinatorChange] {
        guard accounts[key.accountID] == nil else { return [] }
        let record = AccountRecord(key: key, createdAt: now)
        accounts[record.id] = record
        return [.accountCreated(record)]
    }

    // MARK: Parties

    /// Creates a party from a validated draft with a fresh `id` and secret `seed`.
    public mutating func createParty(id: String, draft: PartyDraft, seed: [UInt8], now: Int64) -> [CoordinatorChange] {
        precondition(parties[id] == nil, "party ids are fresh random values")
        let party = Party(id: id, draft: draft, seedCommitment: Assignment.commitment(to: seed), createdAt: now)
        parties[id] = PartyBook(party: party, seed: seed)
        return [.partyCreated(party, seed: seed)]
    }

    /// The seed of `party`, once it has started (nil before, so nobody learns it early).
    public func revealedSeed(of party: String, now: Int64) -> [UInt8]? { parties[party]?.revealedSeed(now: now) }

    // MARK: Registration

    /// Registers `account` for `party` at `location`, locking the party's deposit. Checked in order: the
    /// party exists, its window is open, the account is known and not yet registered, the location and
    /// description are valid, no registration lies closer than the minimum distance, the deposit is there.
    public mutating func register(
        account: String, party partyID: String, latitude: Double, longitude: Double, description: String?,
        now: Int64
    ) throws(RegistrationError) -> [CoordinatorChange] {
        // The checks' view of the party ends with this block, so the writes below modify its tables in place
        // (a copy of them per registration would make registration O(n)).
        let location: GeoPoint
        let deposit: Int64
        do {
            guard let book = parties[partyID] else { throw .unknownParty }
            guard book.party.isRegistrationOpen(at: now) else { throw .registrationClosed }
            guard accounts[account] != nil else { throw .unknownAccount }
            guard book.registrations[account] == nil else { throw .alreadyRegistered }
            guard let point = GeoPoint(latitude: latitude, longitude: longitude) else { throw .invalidLocation }
            if let description,
                description.count > 280
                    || description.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            {
                throw .invalidDescription
            }
            guard book.spacing.conflict(with: point) == nil else { throw .locationTaken }
            location = point
            deposit = book.party.deposit
        }
        let entriesBefore = ledger.entries.count
        if deposit > 0 {
            do {
                try ledger.lock(deposit, holder: account, party: partyID)
            } catch {
                throw .insufficientDeposit(required: deposit, available: ledger.balance(.wallet(account)))
            }
        }
        let registration = Registration(
            party: partyID, account: account, location: location, description: description, registeredAt: now)
        _ = parties[partyID]!.spacing.insert(account, at: location)
        parties[partyID]!.registrations[account] = registration
        return [.registered(registration)] + ledger.entries[entriesBefore...].map { .ledgerEntry($0) }
    }

    /// Withdraws `account`'s registration before the window closes and returns its deposit.
    public mutating func deregister(account: String, party partyID: String, now: Int64) throws(RegistrationError)
        -> [CoordinatorChange]
    {
        do {
            guard let book = parties[partyID] else { throw .unknownParty }
            guard book.party.isRegistrationOpen(at: now) else { throw .registrationClosed }
            guard book.registrations[account] != nil else { throw .notRegistered }
        }
        parties[partyID]!.registrations[account] = nil
        parties[partyID]!.spacing.remove(account)
        let entriesBefore = ledger.entries.count
        if ledger.balance(.locked(holder: account, party: partyID)) > 0 {
            // A registration's lock is there by construction; release cannot be refused.
            _ = try? ledger.release(holder: account, party: partyID)
        }
        return [.deregistered(party: partyID, account: account)]
            + ledger.entries[entriesBefore...].map { .ledgerEntry($0) }
    }

    // MARK: Funds

    /// Funds arriving for `account` from outside (an operator's credit, a payment, a chain deposit).
    public mutating func credit(_ amount: Int64, to account: String) throws(DepositBook.Refusal) -> [CoordinatorChange]
    {
        let before = ledger.entries.count
        try ledger.deposit(amount, to: account)
        return ledger.entries[before...].map { .ledgerEntry($0) }
    }

    /// Free funds leaving to `account` outside the system.
    public mutating func withdraw(_ amount: Int64, from account: String) throws(DepositBook.Refusal)
        -> [CoordinatorChange]
    {
        let before = ledger.entries.count
        try ledger.withdraw(amount, from: account)
        return ledger.entries[before...].map { .ledgerEntry($0) }
    }
}
