import ArgumentParser
import Foundation
import LoadGenerator

struct PartyLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "party",
        abstract: """
            Play a whole party with real clients: log in and register N members, then at the start join the \
            group sessions over WebSocket and approve every turn (the crash test uses --acked-votes and \
            --acked-validations).
            """
    )

    @Option(help: "Base URL of the server's HTTP API (loopback).")
    var target: String = "http://127.0.0.1:8080"

    @Option(help: "An admin key (coordinator.adminKeys).")
    var adminKey: String

    @Option(help: "Members to register.")
    var members: Int = 60

    @Option(help: "The party's group size.")
    var groupSize: Int = 6

    @Option(help: "Seconds until the party starts (registration closes then).")
    var startIn: Int = 8

    @Option(help: "Mean milliseconds a verifier waits before voting.")
    var voteDelayMs: Int = 200

    @Option(help: "Append `party session turn account` for each acknowledged vote to this file.")
    var ackedVotes: String?

    @Option(help: "Append `party account` for each own turn announced approved to this file.")
    var ackedValidations: String?

    func validate() throws {
        guard (1...100_000).contains(members), startIn >= 1, voteDelayMs >= 0 else {
            throw ValidationError("members must be 1...100000, start-in at least 1, vote-delay-ms not negative")
        }
    }

    func run() async throws {
        let generator = PartyLoadGenerator(
            baseURL: target, adminKey: adminKey, members: members, groupSize: groupSize, startIn: startIn,
            voteDelay: .milliseconds(voteDelayMs), votesFile: ackedVotes, validatedFile: ackedValidations)
        let result = try await generator.run { message in
            FileHandle.standardError.write(Data((message + "\n").utf8))
        }
        print(
            "party \(result.party): \(result.votesAcknowledged) votes acknowledged, \(result.validated) validated, "
                + "\(result.membersFinished) of \(members) members finished")
    }
}
