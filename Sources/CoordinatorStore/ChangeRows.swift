import Coordinator
import SQLKit
import Signalling

/// Inserts gathered from a batch of changes, written as multi-row INSERTs (one statement per table and
/// chunk) rather than one statement per row.
struct ChangeRows {
    /// Rows per INSERT: below SQLite's and PostgreSQL's bound-parameter limits for the widest table.
    static let chunk = 400

    private var accounts: [[any Encodable & Sendable]] = []
    private var parties: [[any Encodable & Sendable]] = []
    private var registrations: [[any Encodable & Sendable]] = []
    private var entries: [[any Encodable & Sendable]] = []
    private var postings: [[any Encodable & Sendable]] = []

    mutating func add(_ change: CoordinatorChange) {
        switch change {
        case .accountCreated(let account):
            accounts.append([account.id, account.algorithm.rawValue, Hex.encode(account.publicKey), account.createdAt])
        case .partyCreated(let party, let seed):
            parties.append([
                party.id, party.name, party.timeZone, party.registrationOpensAt, party.registrationClosesAt,
                party.startsAt, party.duration, party.groupSize, party.minimumDistance, party.deposit,
                party.slashPermille, party.seedCommitment, Hex.encode(seed), party.createdAt,
            ])
        case .registered(let registration):
            registrations.append([
                registration.party, registration.account, registration.location.latitude,
                registration.location.longitude, registration.description, registration.registeredAt,
            ])
        case .deregistered:
            break
        case .ledgerEntry(let entry):
            entries.append([Int64(entry.index), entry.memo])
            for (position, posting) in entry.postings.enumerated() {
                let columns = LedgerAccountColumns(posting.account)
                postings.append([
                    Int64(entry.index), position, columns.kind, columns.holder, columns.party, posting.amount,
                ])
            }
        }
    }

    /// Writes the gathered rows (parents before children) and forgets them.
    mutating func flush(to database: any SQLDatabase) async throws {
        try await insert(&accounts, "accounts", ["id", "algorithm", "public_key", "created_at"], database)
        try await insert(
            &parties, "parties",
            [
                "id", "name", "time_zone", "registration_opens_at", "registration_closes_at", "starts_at", "duration",
                "group_size", "minimum_distance", "deposit", "slash_permille", "seed_commitment", "seed", "created_at",
            ], database)
        try await insert(
            &registrations, "registrations",
            ["party", "account", "latitude", "longitude", "description", "registered_at"], database)
        try await insert(&entries, "ledger_entries", ["entry_index", "memo"], database)
        try await insert(
            &postings, "ledger_postings", ["entry_index", "position", "account_kind", "holder", "party", "amount"],
            database)
    }

    private func insert(
        _ rows: inout [[any Encodable & Sendable]], _ table: String, _ columns: [String], _ database: any SQLDatabase
    ) async throws {
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + Self.chunk)
            var statement = database.insert(into: table).columns(columns)
            for row in rows[start..<end] { statement = statement.values(row) }
            try await statement.run()
            start = end
        }
        rows.removeAll(keepingCapacity: true)
    }
}

/// How a ledger account is spread over the posting columns `account_kind`, `holder` and `party`.
struct LedgerAccountColumns {
    let kind: String
    let holder: String?
    let party: String?

    init(_ account: DepositBook.Account) {
        switch account {
        case .external: (kind, holder, party) = ("external", nil, nil)
        case .wallet(let owner): (kind, holder, party) = ("wallet", owner, nil)
        case .locked(let owner, let lockedFor): (kind, holder, party) = ("locked", owner, lockedFor)
        case .slashed(let slashedBy): (kind, holder, party) = ("slashed", nil, slashedBy)
        }
    }

    static func account(kind: String, holder: String?, party: String?) throws -> DepositBook.Account {
        switch (kind, holder, party) {
        case ("external", nil, nil): return .external
        case ("wallet", let holder?, nil): return .wallet(holder)
        case ("locked", let holder?, let party?): return .locked(holder: holder, party: party)
        case ("slashed", nil, let party?): return .slashed(party: party)
        default: throw SQLCoordinatorStore.StoreError(description: "stored ledger account \(kind) is unreadable")
        }
    }
}
