import ArgumentParser
import LoadGenerator
import NIOCore
import STUN

struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load generators for PartyLine's services (and any other STUN server).",
        subcommands: [STUNLoadCommand.self]
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

/// Resolves `HOST:PORT` or `[V6]:PORT` into a socket address.
func parseTarget(_ text: String) throws -> SocketAddress {
    guard let target = HostPort(parsing: text, defaultPort: 3478) else {
        throw ValidationError("bad target \(text): expected HOST:PORT or [V6]:PORT")
    }
    return try SocketAddress.makeAddressResolvingHost(target.host, port: target.port)
}
