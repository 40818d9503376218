import Coordinator
import CoordinatorServer
import Crypto
import Foundation
import Logging
import PartyLineTesting
import Shared
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
        /// For each turn it verified: the prover, and what the location API answered before the member voted.
        var locations: [(turn: Int, prover: String, reply: HTTPTestCall.Reply)] = []
        /// What the location API answered the member about its own running turn.
        var ownLocation: [HTTPTestCall.Reply] = []
        var results: [TurnResultView] = []
    }

    /// A member who joins its group's session and, at every turn start as a verifier, asks the coordinator
    /// for the prover's location and then votes: deny when `denied` names the prover, otherwise approve.
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
            case .turnStart(let view) where view.role == .prover:
                play.ownLocation.append(
                    try await server.call(
                        "GET", "/v1/parties/\(party)/turn-location?turn=\(view.turn)", bearer: accountToken))
            case .turnStart(let view) where view.role == .verifier:
                let reply = try await server.call(
                    "GET", "/v1/parties/\(party)/turn-location?turn=\(view.turn)", bearer: accountToken)
                play.locations.append((view.turn, view.prover, reply))
                let deny = denied.name.withLock { $0 } == view.prover
                connection.send(.vote(turn: view.turn, vote: deny ? .deny : .approve))
            case .turnResult(let result):
                play.results.append(result)
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
        try await WebhookReceiver.withRunning { webhooks in
            try await CoordinatorHarness.withRunning(.sqlite) { server in
                WebhookNotifier(
                    urls: [webhooks.url], secret: WebhookReceiver.secret, coordinator: server.api.coordinator,
                    logger: Logger(label: "test.webhooks"), now: { server.clock.now }
                ).attach()
                try await Self.wholeParty(server, webhooks)
            }
        }
    }

    static func wholeParty(_ server: CoordinatorHarness, _ webhooks: WebhookReceiver) async throws {
        do {
            let party = try await server.createParty(deposit: 100, slashPermille: 500)
            let members = try await server.registeredMembers(7, party: party, credit: 100)
            let notStarted = try await server.call("GET", "/v1/parties/\(party)/assignment")
            #expect(notStarted.json["code"] as? String == "party-not-started")
            server.clock.advance(7200)
            await server.runner.tick()
            let assignment = try await server.call("GET", "/v1/parties/\(party)/assignment")
            let groups = try #require(assignment.json["groups"] as? [[String]])
            #expect(groups.count == 1 && Set(groups[0]) == Set(members.map(\.account)))
            // Anyone can re-derive the groups from the revealed seed and the registration list.
            let published = try JSONDecoder().decode(
                PublishedAssignment.self, from: JSONSerialization.data(withJSONObject: try #require(assignment.body)))
            #expect(try published.verify() == groups)
            #expect(published.accounts == Assignment.sortedByBytes(members.map(\.account)))

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
            // During a turn its verifiers see the prover's location commitment, and only then: every counted
            // approval was cast after its voter read the location, so each approved turn had at least as many
            // reads as approvals.
            let registeredLatitude = Dictionary(
                uniqueKeysWithValues: plays.map { ($0.value.pseudonym, 52.0 + Double($0.key) * 0.01) })
            let reads = plays.values.flatMap(\.locations)
            for read in reads {
                if read.reply.status == 200 {
                    #expect(read.reply.json["pseudonym"] as? String == read.prover)
                    #expect(read.reply.json["latitude"] as? Double == registeredLatitude[read.prover])
                } else {
                    #expect(read.reply.status == 403 && read.reply.json["code"] as? String == "location-hidden")
                }
            }
            // A prover is not a verifier of its own turn: its location is shown to the others only.
            let ownReads = plays.values.flatMap(\.ownLocation)
            #expect(!ownReads.isEmpty && ownReads.allSatisfy { $0.status == 403 })
            for result in try #require(plays[1]).results where result.outcome == .approved {
                let seen = reads.filter { $0.turn == result.turn && $0.reply.status == 200 }.count
                #expect(seen >= result.approvals, "turn \(result.turn)")
            }
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
                let statement = try AttestationSigner.verify(attestation, publicKey: publicKey, now: server.clock.now)
                #expect(throws: AttestationError.wrongKey) {
                    try AttestationSigner.verify(
                        attestation, publicKey: Curve25519.Signing.PrivateKey().publicKey.rawRepresentation,
                        now: server.clock.now)
                }
                #expect(throws: AttestationError.expired) {
                    try AttestationSigner.verify(
                        attestation, publicKey: publicKey, now: server.clock.now + AttestationStatement.lifetime)
                }
                #expect(statement.account == members[index].account && statement.level == level)
                #expect(statement.party == (level == .independent ? party : nil))
            }

            // Signed webhooks: five accounts became independent, and the party completed.
            let bodies = try await webhooks.bodies(count: 6)
            let levels = bodies.filter { $0["type"] as? String == "level-changed" }
            #expect(Set(levels.compactMap { $0["account"] as? String }) == Set(members[1...5].map(\.account)))
            #expect(levels.allSatisfy { $0["level"] as? Int == 1 && $0["reason"] as? String == "validated" })
            let completed = try #require(bodies.first { $0["type"] as? String == "party-completed" })
            #expect(completed["failed"] as? [String] == [members[0].account])
            #expect(completed["noShow"] as? [String] == [members[6].account])
            #expect((completed["validated"] as? [String])?.count == 5)
        }
    }
}
