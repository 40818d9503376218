import ArgumentParser
import Foundation
import Shared
import TURN

struct CredentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential",
        abstract: "Mint a TURN REST credential (coturn use-auth-secret form) and its iceServers entry.",
        discussion: "The secret can also come from a file (--secret-file), which keeps it out of `ps`."
    )

    @Option(help: "The shared secret the relay is configured with.")
    var secret: String?

    @Option(name: .customLong("secret-file"), help: "A file whose first line is the shared secret.")
    var secretFile: String?

    @Option(help: "What the credential is scoped to, e.g. session/turn/pseudonym.")
    var subject: String

    @Option(help: "Seconds the credential stays valid.")
    var ttl: UInt64 = 600

    @Option(name: .customLong("url"), help: "A TURN URL for the iceServers entry (repeatable).")
    var urls: [String] = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]

    func run() throws {
        let text: String
        if let secret {
            text = secret
        } else if let secretFile {
            text =
                try String(contentsOfFile: secretFile, encoding: .utf8).split(whereSeparator: \.isNewline).first.map(
                    String.init) ?? ""
        } else {
            throw ValidationError("give --secret or --secret-file")
        }
        guard let secrets = TURNRESTSecrets([text]) else { throw ValidationError("the secret is empty") }
        let credential = secrets.mint(subject: subject, ttl: ttl, now: UInt64(Date().timeIntervalSince1970))
        print("username  \(credential.username)")
        print("password  \(credential.password)")
        print("expires   \(Date(timeIntervalSince1970: TimeInterval(credential.expires)).ISO8601Format())")
        print(try ICEServer(urls: urls, credential: credential).json())
    }
}
