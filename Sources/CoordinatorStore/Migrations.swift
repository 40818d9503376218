/// The coordinator's schema as numbered migrations, written in the SQL subset SQLite and PostgreSQL share
/// (TEXT, BIGINT, INTEGER, DOUBLE PRECISION; composite primary keys). A migration never changes once
/// released; a new one is appended.
enum Migrations {
    static let all: [(version: Int, statements: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE accounts (
                    id TEXT PRIMARY KEY, algorithm TEXT NOT NULL, public_key TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE parties (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, time_zone TEXT NOT NULL,
                    registration_opens_at BIGINT NOT NULL, registration_closes_at BIGINT NOT NULL,
                    starts_at BIGINT NOT NULL, duration BIGINT NOT NULL, group_size INTEGER NOT NULL,
                    minimum_distance DOUBLE PRECISION NOT NULL, deposit BIGINT NOT NULL, slash_permille INTEGER NOT NULL,
                    seed_commitment TEXT NOT NULL, seed TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE registrations (
                    party TEXT NOT NULL REFERENCES parties (id), account TEXT NOT NULL REFERENCES accounts (id),
                    latitude DOUBLE PRECISION NOT NULL, longitude DOUBLE PRECISION NOT NULL, description TEXT,
                    registered_at BIGINT NOT NULL, PRIMARY KEY (party, account))
                """,
                "CREATE TABLE ledger_entries (entry_index BIGINT PRIMARY KEY, memo TEXT NOT NULL)",
                """
                CREATE TABLE ledger_postings (
                    entry_index BIGINT NOT NULL REFERENCES ledger_entries (entry_index), position INTEGER NOT NULL,
                    account_kind TEXT NOT NULL, holder TEXT, party TEXT, amount BIGINT NOT NULL,
                    PRIMARY KEY (entry_index, position))
                """,
            ]
        ),
        (
            2,
            [
                """
                CREATE TABLE party_starts (
                    party TEXT PRIMARY KEY REFERENCES parties (id), started_at BIGINT NOT NULL, families TEXT NOT NULL)
                """,
                """
                CREATE TABLE party_groups (
                    party TEXT NOT NULL REFERENCES parties (id), group_index INTEGER NOT NULL, position INTEGER NOT NULL,
                    account TEXT NOT NULL, PRIMARY KEY (party, group_index, position))
                """,
                """
                CREATE TABLE group_sessions (
                    party TEXT NOT NULL REFERENCES parties (id), group_index INTEGER NOT NULL, session TEXT NOT NULL,
                    tokens TEXT NOT NULL, PRIMARY KEY (party, group_index))
                """,
                """
                CREATE TABLE outcomes (
                    party TEXT NOT NULL REFERENCES parties (id), account TEXT NOT NULL, outcome TEXT NOT NULL,
                    decided_at BIGINT NOT NULL, PRIMARY KEY (party, account))
                """,
                """
                CREATE TABLE validations (
                    account TEXT PRIMARY KEY REFERENCES accounts (id), party TEXT NOT NULL, validated_at BIGINT NOT NULL,
                    expires BIGINT NOT NULL, revoked_at BIGINT)
                """,
                """
                CREATE TABLE managed_links (
                    managed TEXT PRIMARY KEY REFERENCES accounts (id), controller TEXT NOT NULL REFERENCES accounts (id),
                    declared_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE challenges (
                    id TEXT PRIMARY KEY, account TEXT NOT NULL, filed_by TEXT NOT NULL, reason TEXT NOT NULL,
                    filed_at BIGINT NOT NULL, status TEXT NOT NULL, resolved_at BIGINT, resolution TEXT)
                """,
                """
                CREATE TABLE registry_events (
                    account TEXT NOT NULL, position INTEGER NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL,
                    subject TEXT NOT NULL, PRIMARY KEY (account, position))
                """,
            ]
        ),
        (3, ["CREATE TABLE server_keys (name TEXT PRIMARY KEY, secret TEXT NOT NULL)"]),
        (
            4,
            [
                """
                CREATE TABLE group_events (
                    party TEXT NOT NULL REFERENCES parties (id), sequence INTEGER NOT NULL, kind TEXT NOT NULL,
                    group_index INTEGER NOT NULL, members TEXT NOT NULL, at BIGINT NOT NULL,
                    PRIMARY KEY (party, sequence))
                """,
                """
                CREATE TABLE votes (
                    party TEXT NOT NULL REFERENCES parties (id), group_index INTEGER NOT NULL, session TEXT NOT NULL,
                    turn INTEGER NOT NULL, account TEXT NOT NULL, vote TEXT NOT NULL, cast_at BIGINT NOT NULL,
                    PRIMARY KEY (session, turn, account))
                """,
            ]
        ),
    ]
}
