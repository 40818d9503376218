import Coordinator
import CoordinatorServer
import Foundation
import Logging
import PartyLineTesting
import Signalling
import SignallingClient
import Testing

@Suite(
    "Regrouping over loopback: the members present in undersized groups play on in a new group", .timeLimit(.minutes(1))
)
struct RegroupingAPITests {
    /// What one member saw: the sessions it joined, the votes acknowledged to it, how often it was told its
    /// group was undersized.
    struct Play: Sendable {
        var sessions: [String] = []
        var acks: [(session: String, turn: Int)] = []
        var undersized = 0
    }

    /// A member who joins its current group's session and approves every turn it verifies; told the group is
    /// undersized, it waits for its new group and joins that.
    static func play(_ server: CoordinatorHarness, party: String, token: String) async throws -> Play {
        var logger = Logger(label: "test.member")
        logger.logLevel = .warning
        var play = Play()
        while play.sessions.count < 3 {
            var next: (session: String, token: String)?
            for _ in 0..<300 where next == nil {
                let me = try await server.call("GET", "/v1/parties/\(party)/me", bearer: token)
                if let session = me.json["session"] as? String, !play.sessions.contains(session),
                    let joinToken = me.json["token"] as? String
                {
                    next = (session, joinToken)
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let (session, joinToken) = try #require(next)
            play.sessions.append(session)
            let connection = SignallingConnection(url: server.signallingURL, logger: logger)
            connection.send(.join(version: 1, token: joinToken))
            var regrouped = false
            for await message in connection.messages {
                switch message {
                case .turnStart(let view) where view.role == .verifier:
                    connection.send(.vote(turn: view.turn, vote: .approve))
                case .voteAck(let turn, _):
                    play.acks.append((session, turn))
                case .undersized:
                    play.undersized += 1
                    regrouped = true
                case .sessionResult:
                    connection.close()
                default:
                    break
                }
            }
            if !regrouped { return play }
        }
        return play
    }

    @Test("two groups of four with two present in each: the four present form a new group and are validated")
    func regroup() async throws {
        // The members who play join well within the join window, so exactly two are there in each group.
        try await CoordinatorHarness.withRunning(.sqlite, joinWindow: .seconds(8)) { server in
            let party = try await server.createParty(deposit: 100, slashPermille: 500, groupSize: 4)
            let members = Dictionary(
                uniqueKeysWithValues: try await server.registeredMembers(8, party: party, credit: 100).map {
                    ($0.account, $0.token)
                })
            server.clock.advance(7200)
            let ticking = Task {
                while !Task.isCancelled {
                    await server.runner.tick()
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            defer { ticking.cancel() }
            let assignment = try await server.call("GET", "/v1/parties/\(party)/assignment")
            let groups = try #require(assignment.json["groups"] as? [[String]])
            try #require(groups.map(\.count) == [4, 4])
            let present = Array(groups[0].prefix(2) + groups[1].prefix(2))
            let absent = Set(members.keys).subtracting(present)

            let plays = try await withThrowingTaskGroup(of: (String, Play).self) { group in
                for account in present {
                    let token = try #require(members[account])
                    group.addTask { (account, try await Self.play(server, party: party, token: token)) }
                }
                return try await group.reduce(into: [String: Play]()) { $0[$1.0] = $1.1 }
            }
            for play in plays.values {
                #expect(play.undersized == 1 && play.sessions.count == 2)
            }
            #expect(Set(plays.values.compactMap(\.sessions.last)).count == 1, "one new group for the four")

            var outcomes: [String: String] = [:]
            for _ in 0..<100 {
                for (account, token) in members {
                    let me = try await server.call("GET", "/v1/parties/\(party)/me", bearer: token)
                    outcomes[account] = me.json["outcome"] as? String
                }
                if outcomes.count == 8 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            for account in present {
                #expect(outcomes[account] == "validated")
                let me = try await server.call("GET", "/v1/parties/\(party)/me", bearer: members[account])
                #expect(me.json["group"] as? Int == 2)
            }
            for account in absent { #expect(outcomes[account] == "no-show") }
            #expect(server.api.coordinator.read { $0.ledger.isBalanced() })

            // Every acknowledged vote was committed before its acknowledgement.
            let votes = try await server.call(
                "GET", "/v1/admin/parties/\(party)/votes", bearer: CoordinatorHarness.adminKey)
            let stored = Set(
                try #require(votes.json["votes"] as? [[String: Any]]).map {
                    "\($0["session"] as? String ?? "")/\($0["turn"] as? Int ?? -1)/\($0["account"] as? String ?? "")"
                })
            let acked = plays.flatMap { account, play in play.acks.map { "\($0.session)/\($0.turn)/\(account)" } }
            #expect(acked.count >= 8, "each of four turns needs two approvals")
            #expect(Set(acked).isSubset(of: stored))
            let refused = try await server.call("GET", "/v1/admin/parties/\(party)/votes")
            #expect(refused.status == 401)
        }
    }
}
