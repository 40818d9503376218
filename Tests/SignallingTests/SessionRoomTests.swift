import Crypto
import Shared
import Signalling
import TURN
import TestRandom
import Testing

@Suite("Session room: connections, relaying along allowed edges, votes, stream stop, evidence")
struct SessionRoomTests {
    let start = ContinuousClock.now
    let members = ["m1", "m2", "m3", "m4", "m5", "m6"]
    let key = Curve25519.Signing.PrivateKey()

    func time(_ seconds: Double = 0) -> SessionRoom.Time {
        SessionRoom.Time(
            instant: start + .milliseconds(Int64(seconds * 1000)), unixMillis: 1_000_000 + UInt64(seconds * 1000))
    }

    func room() throws -> SessionRoom {
        let group = try #require(GroupSession(members: members, random: SplitMix64(state: 11)))
        let secrets = try #require(TURNRESTSecrets(["north"]))
        return SessionRoom(id: "s1", group: group, signingKey: key) { subject in
            [ICEServer(urls: ["turn:relay"], credential: subject.map { secrets.mint(subject: $0, ttl: 9, now: 0) })]
        }
    }

    /// Every member connected on connection `index + 1`; the first turn has started.
    func running() throws -> SessionRoom {
        var room = try room()
        for (index, member) in members.enumerated() { _ = room.connect(member, on: UInt64(index + 1), at: time()) }
        return room
    }

    func connection(_ member: String) -> UInt64 { UInt64(members.firstIndex(of: member)! + 1) }

    func sent(_ actions: [SessionRoom.Action], to member: String) -> [ServerMessage] {
        actions.compactMap { if case .send(connection(member), let message) = $0 { message } else { nil } }
    }

    func errorCode(_ actions: [SessionRoom.Action]) -> String? {
        guard actions.count == 1, case .send(_, .error(let code, _)) = actions[0] else { return nil }
        return code
    }

    func turn(_ room: SessionRoom) throws -> GroupSession.Turn { try #require(room.group.turn) }

    @Test("welcome, then turn-start with credentials scoped to session/turn/pseudonym for prover and verifiers")
    func welcomeAndTurnStart() throws {
        var room = try room()
        var last: [SessionRoom.Action] = []
        for (index, member) in members.enumerated() { last = room.connect(member, on: UInt64(index + 1), at: time()) }
        let current = try turn(room)
        let starts = members.flatMap { sent(last, to: $0) }.compactMap {
            if case .turnStart(let view) = $0 { view } else { nil }
        }
        #expect(starts.count == 6)
        let proverView = try #require(
            sent(last, to: current.prover).compactMap { if case .turnStart(let v) = $0 { v } else { nil } }.first)
        #expect(proverView.role == .prover && proverView.prover == room.group.pseudonyms[current.prover])
        #expect(proverView.iceServers.first?.username == "9:s1/0/\(proverView.prover)")
        #expect(proverView.verifiers.count == 5 && proverView.threshold == 3 && proverView.timeLeftMillis == 120_000)
        // The prover gets one credential per verifier, each its own TURN subject (its own relay quota).
        let perVerifier = try #require(proverView.verifierIceServers)
        #expect(perVerifier.keys.sorted() == proverView.verifiers)
        for verifier in proverView.verifiers {
            #expect(perVerifier[verifier]?.first?.username == "9:s1/0/\(proverView.prover)/\(verifier)")
        }
        for member in members where member != current.prover {
            let view = try #require(
                sent(last, to: member).compactMap { if case .turnStart(let v) = $0 { v } else { nil } }.first)
            #expect(view.verifierIceServers == nil)
        }
        let wire = ServerMessage.turnStart(proverView).encoded()
        #expect(wire.contains("\"verifierIceServers\""))
        #expect(try ServerMessage.decode(Array(wire.utf8)) == .turnStart(proverView))
    }

    @Test("a new connection with the same member replaces the old one; the old one's close changes nothing")
    func connectionReplacement() throws {
        var room = try running()
        let prover = try turn(room).prover
        let actions = room.connect(prover, on: 99, at: time(1))
        #expect(actions.first == .close(connection(prover), .replaced))
        guard case .send(99, .welcome(let welcome)) = actions[1] else {
            Issue.record("expected a welcome on the new connection")
            return
        }
        #expect(welcome.resumed && welcome.turn?.role == .prover && welcome.turn?.turn == 0)
        #expect(room.disconnect(connection(prover), at: time(2)).isEmpty)
        #expect(room.group.presence[prover] == .joined && room.group.turn?.waitingForProver == nil)
        #expect(room.member(of: 99) == prover && room.member(of: connection(prover)) == nil)
    }

    @Test("signalling is relayed prover ↔ verifier only; other edges and unknown peers are refused")
    func edges() throws {
        var room = try running()
        let current = try turn(room)
        let verifiers = current.verifiers.sorted()
        let proverName = room.group.pseudonyms[current.prover]!
        let offer = room.receive(
            .offer(to: room.group.pseudonyms[verifiers[0]]!, sdp: "v=0"), from: connection(current.prover), at: time(1))
        #expect(offer == [.send(connection(verifiers[0]), .offer(from: proverName, sdp: "v=0"))])
        let evidence = room.evidence.entries.count
        let sideways = room.receive(
            .offer(to: room.group.pseudonyms[verifiers[1]]!, sdp: "v=0"), from: connection(verifiers[0]), at: time(1))
        #expect(errorCode(sideways) == "edge-not-allowed")
        #expect(
            errorCode(room.receive(.answer(to: "nobody-00", sdp: "x"), from: connection(verifiers[0]), at: time(1)))
                == "unknown-peer")
        #expect(room.evidence.entries.count == evidence)
    }

    @Test("votes: prover, second vote, other turn, after decision each refused with no change; secret until decided")
    func votes() throws {
        var room = try running()
        let current = try turn(room)
        let voters = current.verifiers.sorted()
        #expect(
            errorCode(room.receive(.vote(turn: 0, vote: .approve), from: connection(current.prover), at: time(1)))
                == "prover-cannot-vote")
        let ack = room.receive(.vote(turn: 0, vote: .approve), from: connection(voters[0]), at: time(1))
        #expect(
            ack == [
                .record(.vote(turn: 0, verifier: voters[0], vote: .approve)),
                .send(connection(voters[0]), .voteAck(turn: 0, vote: .approve)),
            ], "recorded before it is acknowledged, and no one else learns of the vote")
        let entries = room.evidence.entries.count
        #expect(
            errorCode(room.receive(.vote(turn: 0, vote: .deny), from: connection(voters[0]), at: time(1)))
                == "already-voted")
        #expect(
            errorCode(room.receive(.vote(turn: 1, vote: .deny), from: connection(voters[1]), at: time(1)))
                == "wrong-turn")
        #expect(room.evidence.entries.count == entries && room.group.results.isEmpty)
        _ = room.receive(.vote(turn: 0, vote: .approve), from: connection(voters[1]), at: time(2))
        let decided = room.receive(.vote(turn: 0, vote: .approve), from: connection(voters[2]), at: time(3))
        #expect(decided.contains(.revoke(subjectPrefix: "s1/0")))
        let recorded = try #require(decided.firstIndex { if case .record(.turnDecided) = $0 { true } else { false } })
        let announced = try #require(
            decided.firstIndex { if case .send(_, .turnResult) = $0 { true } else { false } })
        #expect(recorded < announced, "the decision is recorded before it is announced")
        let result = try #require(
            sent(decided, to: voters[4]).compactMap { if case .turnResult(let r) = $0 { r } else { nil } }.first)
        #expect(result.outcome == .approved && result.approvals == 3 && result.denials == 0 && result.threshold == 3)
        #expect(
            sent(decided, to: current.prover).contains(
                .streamStop(turn: 0, prover: room.group.pseudonyms[current.prover]!)))
        #expect(
            errorCode(room.receive(.vote(turn: 0, vote: .deny), from: connection(voters[3]), at: time(4)))
                == "wrong-turn")
        #expect(room.group.results.count == 1)
    }

    @Test("verifier requests reach the prover only and are rate limited; prompts go to the turn's members")
    func requestsAndPrompts() throws {
        var room = try running()
        let current = try turn(room)
        let verifier = current.verifiers.sorted()[0]
        for _ in 0..<3 {
            let actions = room.receive(.request(text: "pan left"), from: connection(verifier), at: time(1))
            #expect(
                actions == [
                    .send(
                        connection(current.prover), .request(from: room.group.pseudonyms[verifier]!, text: "pan left"))
                ])
        }
        #expect(
            errorCode(room.receive(.request(text: "again"), from: connection(verifier), at: time(1))) == "rate-limited")
        #expect(
            errorCode(room.receive(.request(text: "me"), from: connection(current.prover), at: time(1)))
                == "edge-not-allowed")
        #expect(errorCode(room.receive(.requestPrompt, from: connection(verifier), at: time(1))) == "rate-limited")
        let other = current.verifiers.sorted()[1]
        let prompt = room.receive(.requestPrompt, from: connection(other), at: time(2))
        #expect(prompt.count == 6 && room.evidence.entries.last?.kind == "prompt")
    }

    @Test("reconnecting too often is refused; the session is unchanged")
    func reconnectStorm() throws {
        var room = try running()
        let member = members[0]
        for attempt in 0..<4 {
            #expect(!room.connect(member, on: 100 + UInt64(attempt), at: time(1)).contains(.close(100, .rateLimited)))
        }
        let entries = room.evidence.entries.count
        let refused = room.connect(member, on: 200, at: time(1))
        #expect(refused.last == .close(200, .rateLimited) && room.evidence.entries.count == entries)
        #expect(room.member(of: 103) == member, "the last admitted connection stays")
    }

    @Test("a dropped prover resumes from a snapshot; a whole session ends with signed, verifiable evidence")
    func dropResumeAndEvidence() throws {
        var room = try running()
        let prover = try turn(room).prover
        let drop = room.disconnect(connection(prover), at: time(1))
        #expect(drop.allSatisfy { if case .send(_, .presence(_, "reconnecting")) = $0 { true } else { false } })
        let back = room.connect(prover, on: 50, at: time(5))
        guard case .send(50, .welcome(let welcome)) = back[0] else {
            Issue.record("expected a welcome")
            return
        }
        #expect(welcome.resumed && welcome.turn?.turn == 0 && welcome.turn?.timeLeftMillis == 115_000)
        var now = 10.0
        var finished = false
        while !finished {
            now += 1
            let current = try turn(room)
            for voter in current.verifiers.sorted() {
                let link = voter == prover ? 50 : connection(voter)
                let actions = room.receive(.vote(turn: current.index, vote: .approve), from: link, at: time(now))
                finished = finished || actions.contains(.finished)
                if room.group.turn?.index != current.index { break }
            }
        }
        let signed = try #require(room.signedHead)
        #expect(EvidenceLog.verify(room.evidence.entries, against: signed, publicKey: key.publicKey))
        #expect(room.group.results.count == 6 && room.group.results.allSatisfy { $0.outcome == .approved })
        #expect(room.evidence.entries.contains { $0.kind == "vote" && $0.detail.contains("vote=approve") })
    }
}
