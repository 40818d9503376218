import CoordinatorStore
import Foundation
import Logging
import PartyLineTesting
import PostgresKit
import Testing

/// Fresh, empty databases for storage tests: an SQLite file in a new temporary directory, or a new database
/// on the PostgreSQL server `PARTYLINE_TEST_POSTGRES_URL` names (`scripts/test-postgres.sh start` runs one on
/// loopback; CI always does).
enum TestDatabases {
    enum Kind: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    static let postgresURL = TestPostgres.url

    /// The backends to run against: SQLite always, PostgreSQL when a server is configured.
    static var kinds: [Kind] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    static let logger = Logger(label: "partyline.test.storage")

    /// A new empty database of `kind`.
    static func make(_ kind: Kind) async throws -> SQLCoordinatorStore.Backend {
        let name = "pl_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(String(name))
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return .sqlite(path: directory.appendingPathComponent("partyline.sqlite").path)
        case .postgres:
            return .postgres(url: try await TestPostgres.freshDatabase())
        }
    }
}
