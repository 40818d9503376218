import ArgumentParser
import Coordinator

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "In-process benchmarks of the coordinator: assignment, and registration with storage.",
        subcommands: [AssignmentBenchCommand.self, RegistrationBenchCommand.self]
    )
}

struct AssignmentBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assignment",
        abstract: "Time the verifiable assignment of N registrants (64-hex-digit account ids, 1 % in families)."
    )

    @Option(help: "Registrants.")
    var registrants: Int = 1_000_000

    @Option(help: "Members per group.")
    var groupSize: Int = 6

    @Option(help: "Runs; the fastest and the slowest are reported.")
    var runs: Int = 3

    func run() throws {
        var random = SystemRandomNumberGenerator()
        let accounts = (0..<registrants).map { _ in
            (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max, using: &random), radix: 16) }.joined()
        }
        var family: [String: String] = [:]
        for controller in stride(from: 0, to: registrants, by: 1_000) {
            for managed in controller..<min(controller + 10, registrants) {
                family[accounts[managed]] = accounts[controller]
            }
        }
        let seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        var times: [Duration] = []
        var groups = 0
        for _ in 0..<max(1, runs) {
            let clock = ContinuousClock()
            let elapsed = clock.measure {
                groups = Assignment.groups(accounts: accounts, seed: seed, groupSize: groupSize, family: family).count
            }
            times.append(elapsed)
        }
        print(
            "assignment of \(registrants) registrants into \(groups) groups: fastest \(times.min()!), slowest \(times.max()!)"
        )
    }
}
