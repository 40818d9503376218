import ArgumentParser
import Foundation
import LoadGenerator

struct RegistrationLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registration",
        abstract: """
            Log in N accounts with Ed25519 keys, credit their deposits, then register them all at random points \
            through the HTTP API; report registrations/s (the crash test uses --acked).
            """
    )

    @Option(help: "Base URL of the server's HTTP API (loopback for benchmarks).")
    var target: String = "http://127.0.0.1:8080"

    @Option(help: "An admin key (coordinator.adminKeys).")
    var adminKey: String

    @Option(help: "Accounts to register.")
    var count: Int = 10_000

    @Option(help: "Requests in flight at once.")
    var concurrency: Int = 64

    @Option(help: "Register for this party instead of creating one.")
    var party: String?

    @Option(help: "Append each acknowledged registration's account id to this file.")
    var acked: String?

    func run() async throws {
        let generator = RegistrationLoadGenerator(
            baseURL: target, adminKey: adminKey, count: count, concurrency: concurrency, party: party, ackedFile: acked)
        let (party, result) = try await generator.run { print($0) }
        print(
            String(
                format: "party %@: %d registrations (%d accepted, %d location-taken, %d failed) in %.2f s: %.0f/s",
                party, result.attempts, result.accepted, result.locationTaken, result.failed, result.seconds,
                Double(result.attempts) / max(result.seconds, 1e-9)))
    }
}
