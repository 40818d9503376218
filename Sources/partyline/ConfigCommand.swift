import ArgumentParser
import Foundation
import PartyLineServer

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect the configuration the server would run with.",
        subcommands: [ConfigCheckCommand.self]
    )
}

struct ConfigCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Load the configuration as `serve` would, print every key set (secrets masked) and its source.",
        discussion: """
            Takes the same file, environment and flags as `serve`. Exits non-zero, naming the key, on an \
            unknown flag or file key or a bad value; every key not printed has its embedded default.
            """
    )

    @Option(name: .long, help: "A YAML configuration file.")
    var config: String?

    @Argument(parsing: .allUnrecognized, help: "Configuration keys as flags, e.g. --stun-listen-udp 127.0.0.1:3478")
    var settings: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let checked = try await PartyLineConfiguration.check(
            configFile: config ?? environment["PARTYLINE_CONFIG"], flags: settings, environment: environment,
            warnings: { print("warning: \($0)") })
        for setting in checked.settings {
            print("\(setting.key) = \(setting.value)    (\(setting.source))")
        }
        print("configuration OK: \(checked.settings.count) keys set, every other key at its default")
    }
}
