import ArgumentParser
import Foundation
import LoadGenerator

struct SignallingLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signalling",
        abstract:
            "Create group sessions through the API, connect every member over WebSocket, relay timestamped messages along each turn's edges; report latency and memory per member."
    )

    @Option(help: "Base URL of the server's HTTP API (loopback for benchmarks).")
    var target: String = "http://127.0.0.1:8080"

    @Option(help: "A session API key (signalling.apiKeys).")
    var apiKey: String

    @Option(help: "Members in all.")
    var members: Int = 600

    @Option(help: "Members per group.")
    var groupSize: Int = 6

    @Option(help: "Messages per second each member sends.")
    var rate: Double = 1

    @Option(help: "Seconds of the message phase.")
    var duration: Double = 10

    @Option(help: "Members connecting per second at most.")
    var connectRate: Double = 1000

    @Option(help: "WebSocket URL to connect to, instead of the one the API reports.")
    var signallingURL: String?

    @Option(help: "The server's process id: its resident memory is read before and after the members connect.")
    var serverPID: Int32?

    func run() async throws {
        guard (3...12).contains(groupSize), members >= groupSize else {
            throw ValidationError("--group-size is 3 to 12 and at most --members")
        }
        let generator = SignallingLoadGenerator(
            baseURL: target, apiKey: apiKey, members: members, groupSize: groupSize, rate: rate,
            duration: .milliseconds(Int(duration * 1000)), connectRate: connectRate, signallingURL: signallingURL,
            serverPID: serverPID)
        print("load signalling → \(target), \(members) members in groups of \(groupSize), \(rate) messages/s each")
        let result = try await generator.run { print($0) }
        print(
            result.report.table(
                title: "result", sentLabel: "messages sent", receivedLabel: "messages relayed",
                rateLabel: "relayed/s"
            ).replacingOccurrences(of: "round trip", with: "relay latency"))
        print("  sessions           \(result.sessions)")
        print("  members connected  \(result.connected) (set up in \(result.setup))")
        if let perMember = result.bytesPerMember { print("  server memory      \(perMember) B per member") }
        if let cpu = result.serverCPU {
            let perMessage = result.serverCPUPerMessage.map { ", \($0) per relayed message" } ?? ""
            print("  server CPU         \(cpu) in the message phase\(perMessage)")
        }
        if !result.errors.isEmpty { print("  errors             \(result.errors)") }
        if result.report.received == 0 && rate > 0 { throw ExitCode(1) }
    }
}
