import Foundation
import Logging
import NIOCore
import PartyLineServer
import PartyLineTesting
import STUN
import Signalling
import SignallingClient
import TURN
import TURNClient
import Testing

/// The whole server draining as SIGTERM makes it (``PartyLineApp/stop()`` is the same request): readiness
/// false, no new sessions or allocations, the running turn decided, then the process's run returns; a second
/// request stops at once.
extension WholeServerTests {
    @Suite("Stopping the server", .timeLimit(.minutes(1)))
    struct AppDrainTests {
        /// A server whose three members have joined one session and see its first turn running.
        struct Running {
            let app: PartyLineApp
            let port: Int
            let members: [SignallingConnection]
            var inboxes: [AsyncStream<ServerMessage>.Iterator]
            var verifiers: [(index: Int, turn: Int)] = []
        }

        static func withRunningTurn(_ body: (inout Running) async throws -> Void) async throws {
            let folder = WholeServer.folder("drain")
            defer { try? FileManager.default.removeItem(at: folder) }
            let configuration = try await PartyLineConfiguration.load(
                configFile: nil,
                flags: [
                    "--stun-listen-udp", "127.0.0.1:0", "--stun-listen-tcp", "", "--http-listen", "127.0.0.1:0",
                    "--http-stun", "--turn-users", "alice:wonderland", "--turn-relay-addresses", "127.0.0.1",
                    "--signalling-api-keys", "drain", "--data-directory", folder.path,
                    "--coordinator-database-sqlite-path",
                    folder.appendingPathComponent("partyline.sqlite").path, "--log-level", "critical",
                ], environment: [:])
            let (ports, reportPort) = AsyncStream<Int>.makeStream()
            let app = PartyLineApp(configuration: configuration, onHTTPRunning: { reportPort.yield($0) })
            let run = Task { try await app.run() }
            defer { run.cancel() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let created = try await HTTPTestCall.call(
                port: port, "POST", "/v1/sessions", body: #"{"members":["a","b","c"]}"#, bearer: "drain")
            let tokens = try #require(created.json["members"] as? [[String: Any]]).compactMap { $0["token"] as? String }
            let members = tokens.map { _ in
                SignallingConnection(url: "ws://127.0.0.1:\(port)/v1/signal", logger: Logger(label: "test.drain"))
            }
            for (member, token) in zip(members, tokens) { member.send(.join(version: 1, token: token)) }
            var running = Running(
                app: app, port: port, members: members, inboxes: members.map { $0.messages.makeAsyncIterator() })
            for index in running.inboxes.indices {
                while let message = await running.inboxes[index].next() {
                    guard case .turnStart(let view) = message else { continue }
                    if view.role == .verifier { running.verifiers.append((index, view.turn)) }
                    break
                }
            }
            try #require(running.verifiers.count == 2)
            try await body(&running)
            try await run.value
        }

        @Test(
            "stop with a turn running: not ready, no new session or allocation, the turn is decided, then run returns")
        func drainsThenStops() async throws {
            try await Self.withRunningTurn { running in
                running.app.stop()
                try #require(
                    await eventually {
                        (try? await HTTPTestCall.call(port: running.port, "GET", "/readyz").status) == 503
                    })
                let ready = try await HTTPTestCall.call(port: running.port, "GET", "/readyz")
                #expect(ready.json["reasons"] as? [String] == ["draining"])
                let refused = try await HTTPTestCall.call(
                    port: running.port, "POST", "/v1/sessions", body: #"{"members":["d","e","f"]}"#, bearer: "drain")
                #expect(refused.status == 503 && refused.json["code"] as? String == "draining")

                // TURN over the HTTP port: authenticated, then 508 (no alternate server is configured).
                let connection = try await TestTCPConnection.connect(
                    to: try SocketAddress(ipAddress: "127.0.0.1", port: running.port))
                var auth = TURNClientAuthentication(username: "alice", password: "wonderland")
                let allocation = try await TURNStreamEndToEndTests.request(
                    connection, &auth, .allocate, [.requestedTransport(17)])
                #expect(allocation.errorCode?.code == 508)
                await connection.close()

                for (index, turn) in running.verifiers {
                    running.members[index].send(.vote(turn: turn, vote: .approve))
                }
                var decided: TurnResultView?
                while let message = await running.inboxes[0].next() {
                    if case .turnResult(let result) = message {
                        decided = result
                        break
                    }
                }
                #expect(decided?.outcome == .approved)
                for member in running.members { member.close() }
            }
        }

        @Test("a second stop during the drain stops at once, the turn still running")
        func secondStopIsImmediate() async throws {
            try await Self.withRunningTurn { running in
                running.app.stop()
                try #require(
                    await eventually {
                        (try? await HTTPTestCall.call(port: running.port, "GET", "/readyz").status) == 503
                    })
                running.app.stop()
                for member in running.members { member.close() }
            }
        }
    }
}
