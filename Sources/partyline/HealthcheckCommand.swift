import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `partyline healthcheck`: exit 0 when the URL answers 2xx within the timeout, 1 otherwise. For container
/// health checks (the runtime image has no curl).
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Exit 0 when the server's health URL answers 2xx (for container health checks).")

    @Option(name: .long, help: "The URL to ask: /healthz (alive) or /readyz (ready for new work).")
    var url = "http://127.0.0.1:8080/healthz"

    @Option(name: .long, help: "Seconds to wait for the answer.")
    var timeout = 3

    func run() async throws {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Connection", value: "close")
        let status: UInt
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(timeout)))
            status = response.status.code
        } catch {
            FileHandle.standardError.write(Data("unhealthy: \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard (200..<300).contains(status) else {
            FileHandle.standardError.write(Data("unhealthy: HTTP \(status)\n".utf8))
            throw ExitCode(1)
        }
        print("healthy: HTTP \(status)")
    }
}
