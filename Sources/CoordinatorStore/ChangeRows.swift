import Coordinator
import Foundation
import SQLKit
import Shared
import Signalling

/// Inserts gathered from a batch of changes, written as multi-row INSERTs (one statement per table and
/// chunk) rather than one statement per row, parents before children.
struct ChangeRows {
    /// One table's pending rows. Tables with an upsert key keep the last row per key.
    struct Table {
        let name: String
        let columns: [String]
        /// Columns of the primary key for rows that replace earlier versions; nil for insert-only tables.
        let upsertKey: [String]?
        var rows: [[any Encodable & Sendable]] = []
        var positions: [String: Int] = [:]

        mutating func add(_ row: [any Encodable & Sendable], key: String? = nil) {
            if let key, let position = positions[key] {
                rows[position] = row
                return
            }
            if let key { positions[key] = rows.count }
            rows.append(row)
        }
    }

    /// Rows per INSERT: below SQLite's and PostgreSQL's bound-parameter limits for the widest table.
    static let chunk = 400

    private var tables: [Table] = [
        Table(name: "accounts", columns: ["id", "algorithm", "public_key", "created_at"], upsertKey: nil),
        Table(
            name: "parties",
            columns: [
                "id", "name", "time_zone", "registration_opens_at", "registration_closes_at", "starts_at", "duration",
                "group_size", "minimum_distance", "deposit", "slash_permille", "seed_commitment", "seed", "created_at",
            ], upsertKey: nil),
        Table(
            name: "registrations",
            columns: ["party", "account", "latitude", "longitude", "description", "registered_at"], upsertKey: nil),
        Table(name: "ledger_entries", columns: ["entry_index", "memo"], upsertKey: nil),
        Table(
            name: "ledger_postings",
            columns: ["entry_index", "position", "account_kind", "holder", "party", "amount"], upsertKey: nil),
        Table(name: "party_starts", columns: ["party", "started_at", "families"], upsertKey: nil),
        Table(name: "party_groups", columns: ["party", "group_index", "position", "account"], upsertKey: nil),
        Table(
            name: "group_events", columns: ["party", "sequence", "kind", "group_index", "members", "at"],
            upsertKey: nil),
        Table(
            name: "group_sessions", columns: ["party", "group_index", "session", "tokens"],
            upsertKey: ["party", "group_index"]),
        Table(name: "outcomes", columns: ["party", "account", "outcome", "decided_at"], upsertKey: nil),
        Table(
            name: "votes", columns: ["party", "group_index", "session", "turn", "account", "vote", "cast_at"],
            upsertKey: ["session", "turn", "account"]),
        Table(
            name: "validations", columns: ["account", "party", "validated_at", "expires", "revoked_at"],
            upsertKey: ["account"]),
        Table(name: "managed_links", columns: ["managed", "controller", "declared_at"], upsertKey: nil),
        Table(
            name: "challenges",
            columns: ["id", "account", "filed_by", "reason", "filed_at", "status", "resolved_at", "resolution"],
            upsertKey: ["id"]),
        Table(name: "registry_events", columns: ["account", "position", "kind", "at", "subject"], upsertKey: nil),
    ]

    private mutating func add(_ table: String, _ row: [any Encodable & Sendable], key: String? = nil) {
        tables[tables.firstIndex { $0.name == table }!].add(row, key: key)
    }

    /// Gathers the rows `change` inserts; deletions are the caller's (after a flush).
    mutating func add(_ change: CoordinatorChange) {
        switch change {
        case .accountCreated(let account):
            add("accounts", [account.id, account.algorithm.rawValue, Hex.encode(account.publicKey), account.createdAt])
        case .partyCreated(let party, let seed):
            add(
                "parties",
                [
                    party.id, party.name, party.timeZone, party.registrationOpensAt, party.registrationClosesAt,
                    party.startsAt, party.duration, party.groupSize, party.minimumDistance, party.deposit,
                    party.slashPermille, party.seedCommitment, Hex.encode(seed), party.createdAt,
                ])
        case .registered(let registration):
            add(
                "registrations",
                [
                    registration.party, registration.account, registration.location.latitude,
                    registration.location.longitude, registration.description, registration.registeredAt,
                ])
        case .deregistered, .linkWithdrawn:
            break
        case .ledgerEntry(let entry):
            add("ledger_entries", [Int64(entry.index), entry.memo])
            for (position, posting) in entry.postings.enumerated() {
                let columns = LedgerAccountColumns(posting.account)
                add(
                    "ledger_postings",
                    [Int64(entry.index), position, columns.kind, columns.holder, columns.party, posting.amount])
            }
        case .partyStarted(let party, let groups, let families, let at):
            add("party_starts", [party, at, Self.json(families)])
            for (index, members) in groups.enumerated() {
                for (position, account) in members.enumerated() {
                    add("party_groups", [party, index, position, account])
                }
            }
        case .groupEvent(let event):
            add(
                "group_events",
                [event.party, event.sequence, event.kind.rawValue, event.group, Self.json(event.members), event.at])
        case .vote(let vote):
            add(
                "votes", [vote.party, vote.group, vote.session, vote.turn, vote.account, vote.vote, vote.at],
                key: "\(vote.session)/\(vote.turn)/\(vote.account)")
        case .groupSession(let party, let group, let session, let tokens):
            add("group_sessions", [party, group, session, Self.json(tokens)], key: "\(party)/\(group)")
        case .outcome(let party, let account, let outcome, let at):
            add("outcomes", [party, account, outcome.rawValue, at])
        case .validation(let validation):
            add(
                "validations",
                [
                    validation.account, validation.party, validation.validatedAt, validation.expires,
                    validation.revokedAt,
                ],
                key: validation.account)
        case .linkDeclared(let link):
            add("managed_links", [link.managed, link.controller, link.declaredAt])
        case .challenge(let challenge):
            add(
                "challenges",
                [
                    challenge.id, challenge.account, challenge.filedBy, challenge.reason, challenge.filedAt,
                    challenge.status.rawValue, challenge.resolvedAt, challenge.resolution,
                ], key: challenge.id)
        case .registryEvent(let event, let position):
            add("registry_events", [event.account, position, event.kind.rawValue, event.at, event.subject])
        }
    }

    /// Writes the gathered rows, parents before children, and forgets them.
    mutating func flush(to database: any SQLDatabase) async throws {
        for index in tables.indices where !tables[index].rows.isEmpty {
            try await Self.insert(tables[index], database)
            tables[index].rows.removeAll(keepingCapacity: true)
            tables[index].positions.removeAll(keepingCapacity: true)
        }
    }

    private static func insert(_ table: Table, _ database: any SQLDatabase) async throws {
        var start = 0
        while start < table.rows.count {
            let end = min(table.rows.count, start + chunk)
            var statement = database.insert(into: table.name).columns(table.columns)
            for row in table.rows[start..<end] { statement = statement.values(row) }
            if let key = table.upsertKey {
                let updated = table.columns.filter { !key.contains($0) }
                statement = statement.onConflict(with: key) { update in
                    updated.reduce(update) { $0.set(excludedValueOf: $1) }
                }
            }
            try await statement.run()
            start = end
        }
    }

    /// JSON of lists of accounts (a group event's members).
    static func json(_ lists: [[String]]) -> String {
        // Lists of strings always encode.
        String(decoding: try! JSONEncoder().encode(lists), as: UTF8.self)
    }

    /// Sorted-key JSON of a string map (join tokens by account).
    static func json(_ map: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // A map of strings always encodes.
        return String(decoding: try! encoder.encode(map), as: UTF8.self)
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
