/// Where the coordinator's state is made durable, as the running coordinator needs it. The state is
/// rebuilt from what ``load()`` returns; every batch of changes ``apply(_:)`` takes is written whole or not
/// at all. `CoordinatorStore`'s SQL store (SQLite, PostgreSQL) is the implementation.
public protocol CoordinatorStorage: Sendable {
    /// The state as stored.
    func load() async throws -> CoordinatorState
    /// Makes `changes` durable, in order, in one transaction.
    func apply(_ changes: [CoordinatorChange]) async throws
    /// The stored secret named `name`, storing `candidate` first if there is none.
    func secret(named name: String, candidate: String) async throws -> String
    /// Stores `value` as the secret named `name`, replacing any before.
    func replaceSecret(named name: String, value: String) async throws
    /// Every vote recorded in `party`'s sessions.
    func votes(party: String) async throws -> [CastVote]
    /// Throws unless storage answers now (readiness checks).
    func ping() async throws
    /// Connects again if the connection was lost; nothing while it is up.
    func reconnectIfLost() async throws
    /// Closes the connection; later calls do nothing.
    func close() async throws
}
