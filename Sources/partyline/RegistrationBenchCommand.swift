import ArgumentParser
import Coordinator
import CoordinatorServer
import CoordinatorStore
import Crypto
import Foundation
import Logging

struct RegistrationBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registration",
        abstract: """
            Registrations/s through the running coordinator: the rules and the distance check under the state's \
            lock, then durable group commits to the database (acknowledged only after COMMIT).
            """
    )

    @Option(help: "Registrations.")
    var count: Int = 100_000

    @Option(help: "Registrations in flight at once (concurrent callers).")
    var concurrency: Int = 256

    @Option(help: "SQLite file (a fresh one in a temporary directory by default).")
    var sqlite: String?

    @Option(help: "PostgreSQL URL (an empty database) instead of SQLite.")
    var postgres: String?

    @Option(help: "Minimum distance between registrations, in meters.")
    var minimumDistance: Double = 100

    func run() async throws {
        var logger = Logger(label: "partyline.bench")
        logger.logLevel = .warning
        let backend: SQLCoordinatorStore.Backend
        if let postgres {
            backend = .postgres(url: postgres)
        } else if let sqlite {
            backend = .sqlite(path: sqlite)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("partyline-bench-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            backend = .sqlite(path: directory.appendingPathComponent("bench.sqlite").path)
        }
        let coordinator = try await LiveCoordinator(
            store: try await SQLCoordinatorStore.open(backend, logger: logger), logger: logger)
        let writer = Task { try await coordinator.run() }
        let now = Int64(Date().timeIntervalSince1970)
        let party = "bench-\(now)"
        let accounts = try await prepare(coordinator, party: party, now: now)
        // Points spread over a box of about 600 km × 600 km around Berlin: a realistic city-to-country density
        // where most places are free, so nearly every check ends in a registration.
        var random = SystemRandomNumberGenerator()
        let points = (0..<count).map { _ in
            (Double.random(in: 50...55.4, using: &random), Double.random(in: 10...19, using: &random))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
            let stride = max(1, concurrency)
            for worker in 0..<stride {
                group.addTask {
                    var made = 0
                    for index in Swift.stride(from: worker, to: accounts.count, by: stride) {
                        let (latitude, longitude) = points[index]
                        do {
                            try await coordinator.perform { state in
                                (
                                    try state.register(
                                        account: accounts[index], party: party, latitude: latitude,
                                        longitude: longitude, description: nil, now: now), ()
                                )
                            }
                            made += 1
                        } catch RegistrationError.locationTaken {}
                    }
                    return made
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        coordinator.shutdown()
        try await writer.value
        print(
            String(
                format: "%d registration attempts (%d accepted, %d location-taken) in %.2f s: %.0f registrations/s",
                count, accepted, count - accepted, seconds, Double(count) / seconds))
    }

    /// Accounts with funds and a party with a deposit, committed before the clock starts.
    private func prepare(_ coordinator: LiveCoordinator, party: String, now: Int64) async throws -> [String] {
        let keys = (0..<count).map { _ in
            // A fresh Ed25519 key is always valid.
            try! AccountKey(algorithm: .ed25519, publicKey: Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
        }
        for chunk in stride(from: 0, to: keys.count, by: 10_000) {
            try await coordinator.perform { state in
                var changes: [CoordinatorChange] = []
                for key in keys[chunk..<min(keys.count, chunk + 10_000)] {
                    changes += state.recordAccount(key, now: now)
                    changes += try state.credit(10, to: key.accountID)
                }
                return (changes, ())
            }
        }
        let draft = PartyDraft(
            name: "bench", registrationOpensAt: now - 60, registrationClosesAt: now + 86_400, startsAt: now + 86_400,
            minimumDistance: minimumDistance, deposit: 10)
        try await coordinator.perform { state in
            (
                state.createParty(
                    id: party, draft: try draft.validated(), seed: Array(repeating: 1, count: 32), now: now), ()
            )
        }
        return keys.map(\.accountID)
    }
}
