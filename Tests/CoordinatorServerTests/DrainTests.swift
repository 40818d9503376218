import CoordinatorServer
import Foundation
import Logging
import PartyLineTesting
import Signalling
import SignallingClient
import SignallingServer
import Testing

/// A node draining (SIGTERM's first step) in the middle of a party: the running turn finishes with its
/// votes stored, no turn starts after it, and no session is created.
@Suite("Draining during a party", .timeLimit(.minutes(1)))
struct DrainTests {
    @Test("a turn in progress when the drain starts is decided, its votes are stored, and no turn follows")
    func turnFinishesAndVotesAreStored() async throws {
        try await CoordinatorHarness.withRunning(.sqlite) { server in
            let party = try await server.createParty()
            let members = try await server.registeredMembers(6, party: party, credit: 10)
            server.clock.advance(7200)
            await server.runner.tick()
            var logger = Logger(label: "test.drain")
            logger.logLevel = .warning
            var connections: [SignallingConnection] = []
            var session = ""
            for member in members {
                let membership = try await server.call("GET", "/v1/parties/\(party)/me", bearer: member.token)
                session = try #require(membership.json["session"] as? String)
                let connection = SignallingConnection(url: server.signallingURL, logger: logger)
                connection.send(.join(version: 1, token: try #require(membership.json["token"] as? String)))
                connections.append(connection)
            }
            // Every member hears the first turn start; the verifiers wait with their votes until the drain.
            var inboxes = connections.map { $0.messages.makeAsyncIterator() }
            var verifiers: [(index: Int, turn: Int)] = []
            for index in inboxes.indices {
                while let message = await inboxes[index].next() {
                    guard case .turnStart(let view) = message else { continue }
                    if view.role == .verifier { verifiers.append((index, view.turn)) }
                    break
                }
            }
            try #require(verifiers.count == 5)
            #expect(server.hub.runningTurnCount() == 1)

            server.hub.drain()
            #expect(server.hub.isDraining)
            #expect(throws: (any Error).self) {
                try server.hub.createSession(CreateSessionRequest(members: ["x", "y", "z"]))
            }

            // The running turn goes on: every verifier approves; the turn is decided and announced.
            for (index, turn) in verifiers { connections[index].send(.vote(turn: turn, vote: .approve)) }
            var acknowledged = 0
            var decided: TurnResultView?
            for (index, _) in verifiers {
                while let message = await inboxes[index].next() {
                    if case .voteAck = message { acknowledged += 1 }
                    if case .error = message { break }
                    if case .turnResult(let result) = message {
                        decided = result
                        break
                    }
                }
            }
            #expect(decided?.outcome == .approved)
            try #require(await eventually { server.hub.runningTurnCount() == 0 })
            let summary = try #require(server.hub.summary(of: session))
            #expect(summary.state == "running" && summary.turn == nil && summary.results.count == 1)

            // Each acknowledged vote is in the database.
            let votes = try await server.call(
                "GET", "/v1/admin/parties/\(party)/votes", bearer: CoordinatorHarness.adminKey)
            let stored = try #require(votes.json["votes"] as? [[String: Any]])
            #expect(acknowledged >= 3)
            #expect(stored.count == acknowledged)
            #expect(stored.allSatisfy { $0["turn"] as? Int == 0 && $0["vote"] as? String == "approve" })
            for connection in connections { connection.close() }
        }
    }
}
