import ArgumentParser

@main
struct PartyLineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partyline",
        abstract: "People parties: STUN/TURN relay, signalling and personhood registry.",
        subcommands: [
            ServeCommand.self, ConfigCommand.self, ProbeCommand.self, LoadCommand.self, CredentialCommand.self,
            BenchCommand.self, HealthcheckCommand.self,
            VerifyAssignmentCommand.self, VerifyAttestationCommand.self, VerifyEvidenceCommand.self,
        ]
    )
}
