import ArgumentParser
import Foundation
import TURN
import TURNClient

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Check a STUN server (Binding) or a TURN server (two allocations relaying to each other).",
        discussion: """
            A stun: URL sends a Binding request and prints the mapped address and round-trip time. A turn: URL \
            makes two allocations, binds each to the other's relayed address and sends packets out through one \
            relay and back through the other, as two browsers with relay candidates would; it needs credentials \
            (--username and --password, or --secret for a REST credential). Exits non-zero when the check fails: \
            no answer, a refusal, or no packet back (it prints how many of the packets came back).
            Examples: stun:127.0.0.1:3478, stun:[::1]:3478?transport=tcp, stuns:localhost:5349, \
            turn:127.0.0.1:3478 --secret S, turns:turn.example.org:443?transport=tcp --username U --password P
            """
    )

    @Argument(help: "stun:, stuns:, turn: or turns: URL (RFC 7064, RFC 7065), with or without //")
    var url: String

    @Option(help: "TURN: long-term username.")
    var username: String?

    @Option(help: "TURN: long-term password.")
    var password: String?

    @Option(help: "TURN: REST shared secret; mints a one-hour credential for the check.")
    var secret: String?

    @Option(name: .customLong("data-path"), help: "TURN: channel (ChannelData) or indication (Send/Data).")
    var dataPath: String = "channel"

    @Option(help: "TURN: packets to send through the relays.")
    var packets: Int = 5

    @Option(
        help: ArgumentHelp(
            "Seconds to wait for the answer, retransmitting over UDP meanwhile (turn: for the whole setup, "
                + "all four requests; each packet then waits up to a second)."))
    var timeout: Double = 5

    @Option(name: .customLong("ca-file"), help: "PEM file of the CA that signed the server's TLS certificate.")
    var caFile: String?

    @Flag(help: "Accept any TLS certificate (development only).")
    var insecure = false

    func run() async throws {
        guard let server = STUNServerURL(url) else {
            throw ValidationError("not a stun:, stuns:, turn: or turns: URL: \(url)")
        }
        let trust: TLSTrust =
            insecure ? .insecureNoVerification : caFile.map(TLSTrust.certificateFile) ?? .systemDefault
        if server.scheme == .turn || server.scheme == .turns {
            try await checkRelay(server, trust: trust)
            return
        }
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

    private func checkRelay(_ server: STUNServerURL, trust: TLSTrust) async throws {
        guard let path = TURNDataPath(rawValue: dataPath) else {
            throw ValidationError("--data-path is channel or indication")
        }
        guard packets > 0 else { throw ValidationError("--packets must be at least 1") }
        let (user, key) = try credentials()
        do {
            let result = try await TURNRelayCheck.run(
                server, username: user, password: key, dataPath: path, packets: packets,
                timeout: .milliseconds(Int(timeout * 1000)), trust: trust)
            let sorted = result.roundTrips.sorted()
            let median = sorted[sorted.count / 2]
            print("server      \(server.host):\(server.port) over \(server.transport.rawValue)")
            if let mapped = result.mapped { print("mapped      \(mapped)") }
            print("relayed     \(result.relayed.map(\.description).joined(separator: " and "))")
            print("relayed     \(result.roundTrips.count) of \(result.sent) packets both ways by \(path.rawValue)")
            print("round trip  \(((median / .microseconds(1)).rounded(.down) / 1000)) ms (median, through both relays)")
        } catch {
            print("probe failed: \(error)")
            throw ExitCode(1)
        }
    }

    private func credentials() throws -> (String, String) {
        if let secret {
            guard let secrets = TURNRESTSecrets([secret]) else { throw ValidationError("--secret must not be empty") }
            let credential = secrets.mint(
                subject: "probe", ttl: 3600, now: UInt64(Date().timeIntervalSince1970))
            return (credential.username, credential.password)
        }
        guard let username, let password else {
            throw ValidationError("a turn: URL needs --username and --password, or --secret")
        }
        return (username, password)
    }
}
