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
        )
    ]
}
