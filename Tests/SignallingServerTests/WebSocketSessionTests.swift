import Crypto
import Foundation
import Logging
import Shared
import Signalling
import SignallingClient
import SignallingServer
import Testing

@Suite("Signalling over WebSocket on loopback", .timeLimit(.minutes(1)))
struct WebSocketSessionTests {
    @Test("forged, expired and malformed tokens, a wrong version or a first message that is not a join are refused")
    func admission() async throws {
        try await SignallingHarness.withRunning { harness in
            let created = try await harness.createSession(members: ["a", "b", "c"])
            let good = created.members[0]
            let signer = JoinTokenSigner(secret: "test token secret")
            let expired = signer.sign(
                JoinToken(session: created.session, member: good.member, pseudonym: good.pseudonym, expires: 1))
            let forged = JoinTokenSigner(secret: "not the server's").sign(
                JoinToken(session: created.session, member: "a", pseudonym: good.pseudonym, expires: Int64.max))
            let cases: [(String, String)] = [
                (ClientMessage.join(version: 1, token: forged).encoded(), "forged-token"),
                (ClientMessage.join(version: 1, token: expired).encoded(), "expired-token"),
                (ClientMessage.join(version: 1, token: "garbage").encoded(), "malformed-token"),
                (ClientMessage.join(version: 2, token: good.token).encoded(), "unsupported-version"),
                (ClientMessage.ping.encoded(), "join-first"),
                ("{\"type\":", "invalid-json"),
            ]
            for (first, code) in cases {
                let connection = SignallingConnection(url: harness.signallingURL, logger: .init(label: "test"))
                connection.send(text: first)
                var inbox = Inbox(connection)
                let refusal = try await inbox.first { if case .error(let code, _) = $0 { code } else { nil } }
                #expect(refusal == code)
                #expect(await inbox.next() == nil, "the connection is closed after a refused join")
            }
            let state = try await harness.call("GET", "/v1/sessions/\(created.session)")
            #expect((state.json["evidenceEntries"] as? Int) == 0, "no refused join reached the session")
        }
    }
}

extension WebSocketSessionTests {
    @Test("after joining, invalid JSON, an unknown type and an oversized message get error codes and change nothing")
    func badMessages() async throws {
        try await SignallingHarness.withRunning { harness in
            // A start ten minutes ahead: the session waits however slowly a loaded machine runs the test.
            let startAt = Int64(Date().timeIntervalSince1970) + 600
            let created = try await harness.createSession(members: ["a", "b", "c"], startAt: startAt)
            let connection = harness.join(created.members[0].token)
            var inbox = Inbox(connection)
            _ = try await inbox.first { if case .welcome(let welcome) = $0 { welcome } else { nil } }
            let before = try await harness.call("GET", "/v1/sessions/\(created.session)")
            let oversized = #"{"type":"request","text":""# + String(repeating: "x", count: 20_000) + #""}"#
            for (text, code) in [
                ("[1,", "invalid-json"), (#"{"type":"dance"}"#, "unknown-type"), (oversized, "message-too-large"),
                (#"{"type":"vote","turn":0,"vote":"approve"}"#, "no-turn"),
            ] {
                connection.send(text: text)
                #expect(try await inbox.first { if case .error(let code, _) = $0 { code } else { nil } } == code)
            }
            connection.send(.ping)
            #expect(try await inbox.first { $0 == .pong ? true : nil })
            let after = try await harness.call("GET", "/v1/sessions/\(created.session)")
            #expect(after.json["evidenceEntries"] as? Int == before.json["evidenceEntries"] as? Int)
            #expect(after.json["state"] as? String == "waiting")
            connection.close()
        }
    }

    @Test("everyone joined before a scheduled start: the turn runs, and its graces are enforced at once")
    func gracesBeforeScheduledStart() async throws {
        try await SignallingHarness.withRunning { harness in
            let created = try await harness.createSession(
                members: ["a", "b", "c"], startAt: Int64(Date().timeIntervalSince1970) + 3600,
                options: .init(reconnectGraceSeconds: 1))
            #expect(created.expires > Int64(Date().timeIntervalSince1970) + 3600, "tokens outlive the wait")
            let members = try await harness.joinAll(created)
            let prover = try #require(members.firstIndex { $0.2.role == .prover })
            members[prover].0.abort()
            var verifier = try #require(members.first { $0.2.role == .verifier })
            let result = try await verifier.1.first { if case .turnResult(let result) = $0 { result } else { nil } }
            #expect(result.outcome == .incomplete, "the reconnect grace ran out an hour before the scheduled start")
        }
    }

    /// What one member's client saw of a session.
    struct MemberLog: Sendable {
        var pseudonym = ""
        var resumed = false
        var results: [Int: TurnResultView] = [:]
        var sessionResult: [MemberResult]?
        var answersReceived = 0
        var offersReceived = 0
        var streamStops = 0
        var errors: [String] = []
    }

    /// A well-behaved member: the prover offers to each verifier; a verifier answers the offer and approves.
    /// With `flap`, the client drops its connection at its first turn-start and comes back with the same token.
    static func member(_ harness: SignallingHarness, token: String, flap: Bool) async throws -> MemberLog {
        var log = MemberLog()
        var connection = harness.join(token)
        var inbox = Inbox(connection)
        var turn = -1
        var flapped = !flap
        func act(_ view: TurnView) {
            turn = view.turn
            guard view.role == .prover else { return }
            for verifier in view.verifiers { connection.send(.offer(to: verifier, sdp: "v=0 offer \(view.turn)")) }
        }
        while let message = await inbox.next() {
            switch message {
            case .welcome(let welcome):
                log.pseudonym = welcome.you
                log.resumed = log.resumed || welcome.resumed
                for result in welcome.results { log.results[result.turn] = result }
                if let view = welcome.turn { act(view) }
            case .turnStart(let view):
                guard flapped else {
                    flapped = true
                    connection.abort()
                    try await Task.sleep(for: .milliseconds(200))
                    connection = harness.join(token)
                    inbox = Inbox(connection)
                    continue
                }
                act(view)
            case .offer(let from, _):
                log.offersReceived += 1
                connection.send(.answer(to: from, sdp: "v=0 answer"))
                connection.send(.vote(turn: turn, vote: .approve))
            case .answer:
                log.answersReceived += 1
            case .streamStop:
                log.streamStops += 1
            case .turnResult(let result):
                log.results[result.turn] = result
            case .sessionResult(let results):
                log.sessionResult = results
            case .error(let code, _):
                log.errors.append(code)
            default:
                break
            }
        }
        return log
    }

    @Test("six members over real sockets: five play every turn, one flaps and resumes, one is a no-show")
    func wholeSession() async throws {
        try await SignallingHarness.withRunning { harness in
            let ids = ["m1", "m2", "m3", "m4", "m5", "m6"]
            let created = try await harness.createSession(
                members: ids, options: .init(noShowGraceSeconds: 1, reconnectGraceSeconds: 10))
            let tokens = Dictionary(uniqueKeysWithValues: created.members.map { ($0.member, $0.token) })
            let pseudonyms = Dictionary(uniqueKeysWithValues: created.members.map { ($0.member, $0.pseudonym) })
            // m6 never connects.
            let logs = try await withThrowingTaskGroup(of: (String, MemberLog).self) { group in
                for id in ids.dropLast() {
                    group.addTask { (id, try await Self.member(harness, token: tokens[id]!, flap: id == "m1")) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            let expected = Set(
                ids.map { MemberResult(pseudonym: pseudonyms[$0]!, outcome: $0 == "m6" ? .noShow : .approved) })
            for id in ids.dropLast() {
                let log = try #require(logs[id])
                #expect(log.pseudonym == pseudonyms[id])
                #expect(Set(log.sessionResult ?? []) == expected, "\(id)")
                #expect(log.results.count == 6, "\(id) saw every turn's result")
                let late = Set(["wrong-turn", "no-turn", "not-a-verifier", "edge-not-allowed"])
                #expect(log.errors.allSatisfy(late.contains), "\(id): \(log.errors)")
            }
            #expect(logs["m1"]?.resumed == true)
            for log in logs.values {
                // Each verifier answers before it votes, so a prover hears at least as many answers as it
                // needed approvals.
                let own = try #require(log.results.values.first { $0.prover == log.pseudonym })
                #expect(log.answersReceived >= own.threshold, "\(log.pseudonym): \(log.answersReceived) answers")
            }

            let summary = try await harness.call("GET", "/v1/sessions/\(created.session)")
            #expect(summary.json["state"] as? String == "finished")
            #expect((summary.json["results"] as? [[String: Any]])?.count == 6)
            let evidence = try await harness.call("GET", "/v1/sessions/\(created.session)/evidence")
            let entries = try JSONDecoder().decode(
                [EvidenceLog.Entry].self, from: JSONSerialization.data(withJSONObject: evidence.json["entries"]!))
            let head = try JSONDecoder().decode(
                EvidenceLog.SignedHead.self, from: JSONSerialization.data(withJSONObject: evidence.json["signedHead"]!))
            let key = try Curve25519.Signing.PublicKey(
                rawRepresentation: harness.hub.evidenceKey.publicKey.rawRepresentation)
            #expect(EvidenceLog.verify(entries, against: head, publicKey: key))
            #expect(entries.contains { $0.kind == "drop" } && entries.filter { $0.kind == "decision" }.count == 6)
            // What `partyline verify-evidence` checks, on the published document as served, and on a copy
            // with one vote changed.
            let published = try JSONDecoder().decode(
                PublishedEvidence.self, from: JSONSerialization.data(withJSONObject: evidence.json))
            #expect(throws: Never.self) { try published.verify() }
            #expect(published.publicKey == Hex.encode(key.rawRepresentation))
            var tampered = published.entries
            let vote = try #require(tampered.firstIndex { $0.kind == "vote" })
            let original = tampered[vote]
            tampered[vote] = EvidenceLog.Entry(
                index: original.index, time: original.time, kind: original.kind,
                detail: original.detail + " (changed)", previous: original.previous,
                hash: original.hash)
            #expect(throws: PublishedEvidence.Failure.brokenChain(index: vote)) {
                try PublishedEvidence(
                    entries: tampered, signedHead: published.signedHead, publicKey: published.publicKey
                )
                .verify()
            }
        }
    }
}
