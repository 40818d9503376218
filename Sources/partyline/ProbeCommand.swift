import ArgumentParser
import TURNClient

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Send a STUN Binding request and print the mapped address and round-trip time.",
        discussion: "Exits non-zero when no valid answer arrives. Examples: stun://127.0.0.1:3478, "
            + "stun://[::1]:3478?transport=tcp, stuns://localhost:5349"
    )

    @Argument(help: "stun://HOST:PORT[?transport=udp|tcp] or stuns://HOST:PORT")
    var url: String

    @Option(help: "Seconds to wait for the answer, retransmitting over UDP meanwhile.")
    var timeout: Double = 5

    @Option(name: .customLong("ca-file"), help: "PEM file of the CA that signed the server's TLS certificate.")
    var caFile: String?

    @Flag(help: "Accept any TLS certificate (development only).")
    var insecure = false

    func run() async throws {
        guard let server = STUNServerURL(url), server.scheme == .stun || server.scheme == .stuns else {
            throw ValidationError("not a stun:// or stuns:// URL: \(url)")
        }
        let trust: TLSTrust =
            insecure ? .insecureNoVerification : caFile.map(TLSTrust.certificateFile) ?? .systemDefault
        do {
            let result = try await STUNClient.binding(server, timeout: .milliseconds(Int(timeout * 1000)), trust: trust)
            let milliseconds = (result.roundTrip / .microseconds(1)).rounded(.down) / 1000
            print(
                "server      \(server.host):\(server.port) over \(server.transport.rawValue) (\(result.serverAddress))")
            print("mapped      \(result.mappedAddress)")
            if let local = result.localAddress { print("local       \(local)") }
            if let software = result.software { print("software    \(software)") }
            print("round trip  \(milliseconds) ms")
        } catch {
            print("probe failed: \(error)")
            throw ExitCode(1)
        }
    }
}
