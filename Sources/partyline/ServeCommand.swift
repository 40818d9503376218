import ArgumentParser
import Foundation
import PartyLineServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (embedded defaults when no configuration is given).",
        discussion: """
            Every configuration key can also be given as a flag (`--stun-listen-udp 127.0.0.1:3478`) or an \
            environment variable (`PARTYLINE_STUN_LISTEN_UDP=127.0.0.1:3478`); flags win over the \
            environment, which wins over the file. See config/partyline.example.yaml for every key.
            """
    )

    @Option(name: .long, help: "A YAML configuration file.")
    var config: String?

    @Argument(parsing: .allUnrecognized, help: "Configuration keys as flags, e.g. --stun-listen-udp 127.0.0.1:3478")
    var settings: [String] = []

    func run() async throws {
        let configuration = try await PartyLineConfiguration.load(
            configFile: config ?? ProcessInfo.processInfo.environment["PARTYLINE_CONFIG"], flags: settings,
            environment: ProcessInfo.processInfo.environment,
            warnings: { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) })
        try await PartyLineApp(configuration: configuration).run()
    }
}
