import Coordinator
import CoordinatorServer
import Foundation
import Logging
import PartyLineTesting
import Signalling
import SignallingClient
import Synchronization
import Testing

@Suite(
    "A whole party over loopback: registration, assignment, sessions, outcomes, registry, attestations",
    .timeLimit(.minutes(1)))
struct PartyLifecycleTests {
    /// The pseudonym whose turn the verifiers deny, once its owner has learned it.
    final class DeniedProver: Sendable {
        let name = Mutex<String?>(nil)
    }

    /// What one member saw.
    struct Play: Sendable {
        var pseudonym = ""
        /// The prover of the member's first turn as a verifier, and the location the API showed for it then.
        var firstProver = ""
        var location: HTTPTestCall.Reply?
    }

    /// A member who joins its group's session and votes at every turn start as a verifier: deny when
    /// `denied` names the prover, otherwise approve. At its first turn as a verifier it asks the coordinator
    /// for the prover's location.
    static func play(
        _ server: CoordinatorHarness, party: String, token accountToken: String, denied: DeniedProver,
        deniesOwnTurn: Bool
    ) async throws -> Play {
        let membership = try await server.call("GET", "/v1/parties/\(party)/me", bearer: accountToken)
        let joinToken = try #require(membership.json["token"] as? String)
        var logger = Logger(label: "test.member")
        logger.logLevel = .warning
        let connection = SignallingConnection(url: server.signallingURL, logger: logger)
        connection.send(.join(version: 1, token: joinToken))
        var play = Play()
        for await message in connection.messages {
            switch message {
            case .welcome(let welcome):
                play.pseudonym = welcome.you
                if deniesOwnTurn { denied.name.withLock { $0 = welcome.you } }
            case .turnStart(let view) where view.role == .verifier:
                if play.location == nil {
                    play.firstProver = view.prover
                    play.location = try await server.call(
                        "GET", "/v1/parties/\(party)/turn-location", bearer: accountToken)
                }
                let deny = denied.name.withLock { $0 } == view.prover
                connection.send(.vote(turn: view.turn, vote: deny ? .deny : .approve))
            case .sessionResult:
                connection.close()
            default:
                break
            }
        }
        return play
    }

    @Test("seven registrants: five validated, one denied, one no-show; deposits, levels, lists and attestations follow")
    func wholeParty() async throws {
        try await CoordinatorHarness.withRunning(.sqlite) { server in
            let party = try await server.createParty(deposit: 100, slashPermille: 500)
            var members: [(account: String, token: String)] = []
            for index in 0..<7 {
                let member = try await server.login()
                try await server.credit(member.account, 100)
                let registered = try await server.register(
                    member.token, party: party, latitude: 52.0 + Double(index) * 0.01, longitude: 4.3)
                try #require(registered.status == 201)
                members.append(member)
            }
            let notStarted = try await server.call("GET", "/v1/parties/\(party)/assignment")
            #expect(notStarted.json["code"] as? String == "party-not-started")
            server.clock.advance(7200)
            await server.runner.tick()
            let assignment = try await server.call("GET", "/v1/parties/\(party)/assignment")
            let groups = try #require(assignment.json["groups"] as? [[String]])
            #expect(groups.count == 1 && Set(groups[0]) == Set(members.map(\.account)))
            // Anyone can re-derive the groups from the revealed seed and the registration list.
            let seedText = try #require(assignment.json["seed"] as? String)
            let seed = try #require(Hex.decode(seedText))
            #expect(Assignment.commitment(to: seed) == assignment.json["seedCommitment"] as? String)
            #expect(Assignment.groups(accounts: members.map(\.account), seed: seed, groupSize: 6) == groups)

            // Members 0–5 play; member 0's turn is denied; member 6 never connects.
            let denied = DeniedProver()
            let plays = try await withThrowingTaskGroup(of: (Int, Play).self) { group in
                for (index, member) in members.enumerated().dropLast() {
                    group.addTask {
                        (
                            index,
                            try await Self.play(
                                server, party: party, token: member.token, denied: denied, deniesOwnTurn: index == 0)
                        )
                    }
                }
                return try await group.reduce(into: [Int: Play]()) { $0[$1.0] = $1.1 }
            }
            // During a turn a verifier sees the prover's location commitment, and only then.
            let seen = try #require(plays[1])
            #expect(seen.location?.status == 200 && seen.location?.json["pseudonym"] as? String == seen.firstProver)
            let proverIndex = try #require(plays.first { $0.value.pseudonym == seen.firstProver }?.key)
            #expect(seen.location?.json["latitude"] as? Double == 52.0 + Double(proverIndex) * 0.01)
            let afterwards = try await server.call(
                "GET", "/v1/parties/\(party)/turn-location", bearer: members[1].token)
            #expect(afterwards.status == 403 && afterwards.json["code"] as? String == "location-hidden")
            let outsider = try await server.login()
            #expect(
                try await server.call("GET", "/v1/parties/\(party)/turn-location", bearer: outsider.token).status == 404
            )

            // Outcomes arrive from the finished session.
            var outcomes: [String?] = []
            for _ in 0..<100 {
                outcomes = []
                for member in members {
                    let me = try await server.call("GET", "/v1/parties/\(party)/me", bearer: member.token)
                    outcomes.append(me.json["outcome"] as? String)
                }
                if outcomes.allSatisfy({ $0 != nil }) { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(outcomes == ["failed"] + Array(repeating: "validated", count: 5) + ["no-show"])
            for (index, member) in members.enumerated() {
                let account = try await server.call("GET", "/v1/accounts/me", bearer: member.token)
                let validated = (1...5).contains(index)
                #expect(account.json["free"] as? Int == (validated ? 100 : 50) && account.json["locked"] as? Int == 0)
                let entry = try await server.call("GET", "/v1/registry/\(member.account)")
                #expect(entry.json["level"] as? Int == (validated ? 1 : 0))
            }
            #expect(server.api.coordinator.read { $0.ledger.isBalanced() })
            let list = try await server.call("GET", "/v1/parties/\(party)/validated")
            #expect(list.json["accounts"] as? [String] == Assignment.sortedByBytes(members[1...5].map(\.account)))

            // Attestations verify offline against the well-known key.
            let key = try await server.call("GET", "/.well-known/partyline-attestation-key")
            let publicKeyText = try #require(key.json["publicKey"] as? String)
            let publicKey = try #require(Base64URL.decode(publicKeyText))
            for (index, level) in [(1, PersonhoodLevel.independent), (0, .unregistered)] {
                let reply = try await server.call("GET", "/v1/attestations/\(members[index].account)")
                let body = try JSONSerialization.data(withJSONObject: try #require(reply.body))
                let attestation = try JSONDecoder().decode(SignedAttestation.self, from: body)
                let statement = try AttestationSigner.verify(attestation, publicKey: publicKey)
                #expect(statement.account == members[index].account && statement.level == level)
                #expect(statement.party == (level == .independent ? party : nil))
            }
        }
    }
}
