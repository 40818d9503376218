import Foundation
import Logging
import PostgresKit

/// The PostgreSQL server the tests use, if any (`PARTYLINE_TEST_POSTGRES_URL`; `scripts/test.sh` starts one
/// on loopback, and CI always does).
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["PARTYLINE_TEST_POSTGRES_URL"]

    public struct NotConfigured: Error {}

    /// The URL of a new, empty database on that server.
    public static func freshDatabase() async throws -> String {
        guard let base = url, var components = URLComponents(string: base) else { throw NotConfigured() }
        let logger = Logger(label: "partyline.test.postgres")
        let name = "pl_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let admin = try await PostgresConnection.connect(
            configuration: try SQLPostgresConfiguration(url: base).coreConfiguration, id: 1, logger: logger)
        do {
            _ = try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        } catch {
            try? await admin.close()
            throw error
        }
        try await admin.close()
        components.path = "/" + name
        guard let fresh = components.string else { throw NotConfigured() }
        return fresh
    }
}
