import ArgumentParser
import Foundation
import LoadGenerator
import NIOCore
import STUN
import TURN
import TURNClient

struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load generators for PartyLine's services (and any other STUN server).",
        subcommands: [
            STUNLoadCommand.self, TURNLoadCommand.self, SignallingLoadCommand.self, RegistrationLoadCommand.self,
            PartyLoadCommand.self,
        ]
    )
}

struct STUNLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stun",
        abstract: "Flood a STUN server with Binding requests over UDP; report responses/s, loss and latency."
    )

    @Option(help: "HOST:PORT of the STUN server (loopback for benchmarks).")
    var target: String

    @Option(help: "Seconds to run.")
    var duration: Double = 10

    @Option(help: "Requests in flight at once.")
    var inflight: Int = 256

    @Option(help: "Client UDP sockets the requests are spread over.")
    var sockets: Int = 8

    func run() async throws {
        let address = try parseTarget(target)
        let generator = STUNLoadGenerator(
            target: address, duration: .milliseconds(Int(duration * 1000)), inflight: inflight, sockets: sockets)
        print("load stun → \(address), \(inflight) in flight over \(generator.sockets) sockets, \(duration) s")
        let report = try await generator.run { elapsed, responses in
            let seconds = elapsed / .seconds(1)
            print(
                "  \(Int(seconds.rounded())) s  \(responses) responses  \(Int(Double(responses) / max(seconds, 0.001))) /s"
            )
        }
        print(report.table(title: "result"))
        if report.received == 0 { throw ExitCode(1) }
    }
}

struct TURNLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "turn",
        abstract:
            "Relay data through a TURN server to an echo peer this tool runs; report allocations/s, echoes/s, loss and latency."
    )

    @Option(help: "HOST:PORT of the TURN server (loopback for benchmarks).")
    var target: String

    @Option(help: "Client transport: udp, tcp or tls.")
    var transport: String = "udp"

    @Option(help: "channel (ChannelData) or indication (Send/Data indications).")
    var mode: String = "channel"

    @Option(
        help: ArgumentHelp(
            "How the client and its echo peer send: per-datagram (one system call each, as browsers and phones "
                + "send), sendmmsg (a burst per call, no offload) or gso (UDP segmentation offload)."))
    var send: String = "per-datagram"

    @Option(help: "Concurrent allocations, each with its own socket or connection.")
    var allocations: Int = 16

    @Option(help: "Application bytes per packet (at least 16).")
    var size: Int = 100

    @Option(help: "Packets per second per allocation; omit to run flat out; 0 holds the allocations idle.")
    var rate: Int?

    @Option(help: "Packets in flight per allocation when running flat out.")
    var window: Int = 8

    @Option(help: "Seconds to run the data phase.")
    var duration: Double = 10

    @Option(help: "Long-term username (or use --secret for REST credentials).")
    var username: String?

    @Option(help: "Long-term password.")
    var password: String?

    @Option(help: "TURN REST shared secret: mints a credential per run.")
    var secret: String?

    func run() async throws {
        let address = try parseTarget(target)
        guard let transport = TURNLoadGenerator.Transport(rawValue: transport) else {
            throw ValidationError("--transport is udp, tcp or tls")
        }
        guard let dataPath = TURNDataPath(rawValue: mode) else {
            throw ValidationError("--mode is channel or indication")
        }
        guard let sendMode = TURNLoadGenerator.SendMode(rawValue: send) else {
            throw ValidationError("--send is per-datagram, sendmmsg or gso")
        }
        let (username, password) = try credentials()
        let generator = TURNLoadGenerator(
            target: address, transport: transport, dataPath: dataPath, sendMode: sendMode, allocations: allocations,
            payloadSize: size,
            rate: rate,
            window: window, duration: .milliseconds(Int(duration * 1000)), username: username, password: password)
        let pace = rate.map { "\($0) packets/s each" } ?? "flat out, \(window) in flight each"
        print(
            "load turn → \(address) over \(transport), \(dataPath), sends \(sendMode.rawValue), \(allocations) allocations, \(generator.payloadSize) B, \(pace), \(duration) s"
        )
        let report = try await generator.run { setup in
            print("  \(generator.allocations) allocations ready in \(setup)")
        } progress: { elapsed, echoes in
            let seconds = elapsed / .seconds(1)
            print("  \(Int(seconds.rounded())) s  \(echoes) echoes  \(Int(Double(echoes) / max(seconds, 0.001))) /s")
        }
        print(report.table(title: "result"))
        if report.data.received == 0 && rate != 0 { throw ExitCode(1) }
    }

    private func credentials() throws -> (String, String) {
        if let secret {
            guard let secrets = TURNRESTSecrets([secret]) else { throw ValidationError("--secret must not be empty") }
            let credential = secrets.mint(
                subject: "load/\(UInt32.random(in: 0...UInt32.max))", ttl: 3600,
                now: UInt64(Date().timeIntervalSince1970))
            return (credential.username, credential.password)
        }
        guard let username, let password else { throw ValidationError("give --username and --password, or --secret") }
        return (username, password)
    }
}

/// Resolves `HOST:PORT` or `[V6]:PORT` into a socket address.
func parseTarget(_ text: String) throws -> SocketAddress {
    guard let target = HostPort(parsing: text, defaultPort: 3478) else {
        throw ValidationError("bad target \(text): expected HOST:PORT or [V6]:PORT")
    }
    return try SocketAddress.makeAddressResolvingHost(target.host, port: target.port)
}
