import CoordinatorStore
import Foundation
import Logging
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

    static let postgresURL = ProcessInfo.processInfo.environment["PARTYLINE_TEST_POSTGRES_URL"]

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
            guard let base = postgresURL, var url = URLComponents(string: base) else {
                throw CocoaError(.featureUnsupported)
            }
            let admin = try await PostgresConnection.connect(
                configuration: try SQLPostgresConfiguration(url: base).coreConfiguration, id: 1, logger: logger)
            _ = try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            try await admin.close()
            url.path = "/" + name
            return .postgres(url: url.string!)
        }
    }
}
