import Coordinator
import Foundation
import SQLKit
import Shared
import Signalling

/// Reads the stored rows back as the changes that made them, parents before children.
enum StoredRows {
    static func changes(_ database: any SQLDatabase) async throws -> [CoordinatorChange] {
        var changes: [CoordinatorChange] = []
        for row in try await database.raw("SELECT * FROM accounts ORDER BY created_at, id").all() {
            changes.append(
                .accountCreated(
                    AccountRecord(
                        id: try row.decode(column: "id", as: String.self),
                        algorithm: try KeyAlgorithm(rawValue: row.decode(column: "algorithm", as: String.self))
                            .unwrap("algorithm"),
                        publicKey: try Hex.decode(row.decode(column: "public_key", as: String.self)).unwrap(
                            "public key"),
                        createdAt: try row.decode(column: "created_at", as: Int64.self))))
        }
        for row in try await database.raw("SELECT * FROM parties ORDER BY created_at, id").all() {
            let (party, seed) = try party(from: row)
            changes.append(.partyCreated(party, seed: seed))
        }
        for row in try await database.raw("SELECT * FROM registrations").all() {
            changes.append(.registered(try registration(from: row)))
        }
        changes += try await starts(database)
        for row in try await database.raw("SELECT * FROM group_events ORDER BY party, sequence").all() {
            let members = try JSONDecoder().decode(
                [[String]].self, from: Data(row.decode(column: "members", as: String.self).utf8))
            changes.append(
                .groupEvent(
                    GroupEvent(
                        party: try row.decode(column: "party", as: String.self),
                        sequence: try row.decode(column: "sequence", as: Int.self),
                        kind: try GroupEvent.Kind(rawValue: row.decode(column: "kind", as: String.self)).unwrap(
                            "group event kind"),
                        group: try row.decode(column: "group_index", as: Int.self), members: members,
                        at: try row.decode(column: "at", as: Int64.self))))
        }
        for row in try await database.raw("SELECT * FROM group_sessions").all() {
            let tokens = try JSONDecoder().decode(
                [String: String].self, from: Data(row.decode(column: "tokens", as: String.self).utf8))
            changes.append(
                .groupSession(
                    party: try row.decode(column: "party", as: String.self),
                    group: try row.decode(column: "group_index", as: Int.self),
                    session: try row.decode(column: "session", as: String.self), tokens: tokens))
        }
        for row in try await database.raw("SELECT * FROM outcomes").all() {
            changes.append(
                .outcome(
                    party: try row.decode(column: "party", as: String.self),
                    account: try row.decode(column: "account", as: String.self),
                    outcome: try RegistrantOutcome(rawValue: row.decode(column: "outcome", as: String.self))
                        .unwrap("outcome"),
                    at: try row.decode(column: "decided_at", as: Int64.self)))
        }
        changes += try await registry(database)
        return changes
    }

    private static func starts(_ database: any SQLDatabase) async throws -> [CoordinatorChange] {
        var members: [String: [Int: [(Int, String)]]] = [:]
        for row in try await database.raw("SELECT * FROM party_groups").all() {
            members[try row.decode(column: "party", as: String.self), default: [:]][
                try row.decode(column: "group_index", as: Int.self), default: []
            ].append(
                (try row.decode(column: "position", as: Int.self), try row.decode(column: "account", as: String.self)))
        }
        return try await database.raw("SELECT * FROM party_starts").all().map { row in
            let party = try row.decode(column: "party", as: String.self)
            let groups = (members[party] ?? [:]).sorted { $0.key < $1.key }.map {
                $0.value.sorted { $0.0 < $1.0 }.map(\.1)
            }
            let families = try JSONDecoder().decode(
                [String: String].self, from: Data(row.decode(column: "families", as: String.self).utf8))
            return .partyStarted(
                party: party, groups: groups, families: families,
                at: try row.decode(column: "started_at", as: Int64.self))
        }
    }

    private static func registry(_ database: any SQLDatabase) async throws -> [CoordinatorChange] {
        var changes: [CoordinatorChange] = []
        for row in try await database.raw("SELECT * FROM validations").all() {
            changes.append(
                .validation(
                    Validation(
                        account: try row.decode(column: "account", as: String.self),
                        party: try row.decode(column: "party", as: String.self),
                        validatedAt: try row.decode(column: "validated_at", as: Int64.self),
                        expires: try row.decode(column: "expires", as: Int64.self),
                        revokedAt: try row.decode(column: "revoked_at", as: Int64?.self))))
        }
        for row in try await database.raw("SELECT * FROM managed_links").all() {
            changes.append(
                .linkDeclared(
                    ManagedLink(
                        controller: try row.decode(column: "controller", as: String.self),
                        managed: try row.decode(column: "managed", as: String.self),
                        declaredAt: try row.decode(column: "declared_at", as: Int64.self))))
        }
        for row in try await database.raw("SELECT * FROM challenges").all() {
            changes.append(
                .challenge(
                    RegistryChallenge(
                        id: try row.decode(column: "id", as: String.self),
                        account: try row.decode(column: "account", as: String.self),
                        filedBy: try row.decode(column: "filed_by", as: String.self),
                        reason: try row.decode(column: "reason", as: String.self),
                        filedAt: try row.decode(column: "filed_at", as: Int64.self),
                        status: try RegistryChallenge.Status(rawValue: row.decode(column: "status", as: String.self))
                            .unwrap("challenge status"),
                        resolvedAt: try row.decode(column: "resolved_at", as: Int64?.self),
                        resolution: try row.decode(column: "resolution", as: String?.self))))
        }
        for row in try await database.raw("SELECT * FROM registry_events ORDER BY account, position").all() {
            changes.append(
                .registryEvent(
                    RegistryEvent(
                        account: try row.decode(column: "account", as: String.self),
                        kind: try RegistryEvent.Kind(rawValue: row.decode(column: "kind", as: String.self))
                            .unwrap("event kind"),
                        at: try row.decode(column: "at", as: Int64.self),
                        subject: try row.decode(column: "subject", as: String.self)),
                    position: try row.decode(column: "position", as: Int.self)))
        }
        return changes
    }

    /// Every vote cast in `party`'s sessions, in the order of group, session, turn and account.
    static func votes(party: String, _ database: any SQLDatabase) async throws -> [CastVote] {
        try await database.raw(
            "SELECT * FROM votes WHERE party = \(bind: party) ORDER BY group_index, session, turn, account"
        ).all().map { row in
            CastVote(
                party: try row.decode(column: "party", as: String.self),
                group: try row.decode(column: "group_index", as: Int.self),
                session: try row.decode(column: "session", as: String.self),
                turn: try row.decode(column: "turn", as: Int.self),
                account: try row.decode(column: "account", as: String.self),
                vote: try row.decode(column: "vote", as: String.self),
                at: try row.decode(column: "cast_at", as: Int64.self))
        }
    }

    static func ledgerEntries(_ database: any SQLDatabase) async throws -> [DepositBook.Entry] {
        let memos = try await database.raw("SELECT entry_index, memo FROM ledger_entries ORDER BY entry_index").all()
        let postings = try await database.raw(
            "SELECT entry_index, account_kind, holder, party, amount FROM ledger_postings ORDER BY entry_index, position"
        ).all()
        var byEntry: [Int64: [DepositBook.Posting]] = [:]
        for row in postings {
            let index = try row.decode(column: "entry_index", as: Int64.self)
            let account = try LedgerAccountColumns.account(
                kind: row.decode(column: "account_kind", as: String.self),
                holder: row.decode(column: "holder", as: String?.self),
                party: row.decode(column: "party", as: String?.self))
            byEntry[index, default: []].append(
                DepositBook.Posting(account: account, amount: try row.decode(column: "amount", as: Int64.self)))
        }
        return try memos.map { row in
            let index = try row.decode(column: "entry_index", as: Int64.self)
            return DepositBook.Entry(
                index: Int(index), memo: try row.decode(column: "memo", as: String.self), postings: byEntry[index] ?? []
            )
        }
    }

    static func party(from row: any SQLRow) throws -> (Party, seed: [UInt8]) {
        let draft = PartyDraft(
            name: try row.decode(column: "name", as: String.self),
            timeZone: try row.decode(column: "time_zone", as: String.self),
            registrationOpensAt: try row.decode(column: "registration_opens_at", as: Int64.self),
            registrationClosesAt: try row.decode(column: "registration_closes_at", as: Int64.self),
            startsAt: try row.decode(column: "starts_at", as: Int64.self),
            duration: try row.decode(column: "duration", as: Int64.self),
            groupSize: try row.decode(column: "group_size", as: Int.self),
            minimumDistance: try row.decode(column: "minimum_distance", as: Double.self),
            deposit: try row.decode(column: "deposit", as: Int64.self),
            slashPermille: try row.decode(column: "slash_permille", as: Int.self))
        let party = Party(
            id: try row.decode(column: "id", as: String.self), draft: draft,
            seedCommitment: try row.decode(column: "seed_commitment", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
        return (party, try Hex.decode(row.decode(column: "seed", as: String.self)).unwrap("seed"))
    }

    static func registration(from row: any SQLRow) throws -> Registration {
        Registration(
            party: try row.decode(column: "party", as: String.self),
            account: try row.decode(column: "account", as: String.self),
            location: try GeoPoint(
                latitude: row.decode(column: "latitude", as: Double.self),
                longitude: row.decode(column: "longitude", as: Double.self)
            ).unwrap("location"),
            description: try row.decode(column: "description", as: String?.self),
            registeredAt: try row.decode(column: "registered_at", as: Int64.self))
    }
}
