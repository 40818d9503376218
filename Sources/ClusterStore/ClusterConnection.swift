import Logging
import PostgresKit
import SQLKit
import Synchronization

/// One PostgreSQL connection to the cluster's tables, opened (and the tables made) on first use and again
/// after it drops. Two callers opening at once keep the first connection installed.
final class ClusterConnection: Sendable {
    private let url: String
    private let id: Int
    private let logger: Logger
    private let current = Mutex<PostgresConnection?>(nil)

    init(url: String, id: Int, logger: Logger) {
        self.url = url
        self.id = id
        self.logger = logger
    }

    /// The open connection, opening it first if needed.
    func open() async throws -> PostgresConnection {
        if let connection = current.withLock({ $0 }), !connection.isClosed { return connection }
        let fresh = try await PostgresConnection.connect(
            configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, id: id, logger: logger)
        do {
            try await ClusterSchema.create(fresh.sql(queryLogLevel: nil))
        } catch {
            try? await fresh.close()
            throw error
        }
        let (kept, spare) = current.withLock { connection -> (PostgresConnection, PostgresConnection?) in
            if let installed = connection, !installed.isClosed { return (installed, fresh) }
            defer { connection = fresh }
            return (fresh, connection)
        }
        try? await spare?.close()
        return kept
    }

    /// Forgets `connection` if it has closed, so the next call opens a new one.
    func forget(_ connection: PostgresConnection) {
        guard connection.isClosed else { return }
        current.withLock { if $0 === connection { $0 = nil } }
    }

    /// Closes the connection.
    func close() async {
        let connection = current.withLock { connection -> PostgresConnection? in
            defer { connection = nil }
            return connection
        }
        try? await connection?.close()
    }
}
