import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import Shared
import Signalling
import SignallingClient
import SignallingServer
import TURN
import Testing

/// The decision stops the prover's media at the relay, whatever the prover's client does.
@Suite("Stream stop at the relay", .timeLimit(.minutes(1)))
struct StreamStopEndToEndTests {
    @Test("relayed with the turn's credentials until the decision; nothing sent after turn-result reaches the peer")
    func streamStopsAtRelay() async throws {
        let revoked = NIOLockedValueBox<[String]>([])
        try await SignallingHarness.withRelay(onRevoke: { prefix in revoked.withLockedValue { $0.append(prefix) } }) {
            harness, turnServer in
            try await run(harness, turnServer: turnServer, revoked: revoked)
        }
    }

    private func run(
        _ harness: SignallingHarness, turnServer: SocketAddress, revoked: NIOLockedValueBox<[String]>
    ) async throws {
        let created = try await harness.createSession(members: ["p1", "p2", "p3"])
        var views: [String: (SignallingConnectionBox, TurnView)] = [:]
        let connections = created.members.map { ($0.member, harness.join($0.token)) }
        for (member, connection) in connections {
            var inbox = Inbox(connection)
            let view = try await inbox.first { if case .turnStart(let view) = $0 { view } else { nil } }
            views[member] = (SignallingConnectionBox(connection: connection, inbox: inbox), view)
        }
        let (_, proverView) = try #require(views.values.first { $0.1.role == .prover })
        // The prover streams with the credential minted for one verifier's connection, as the web page does.
        let verifierServers = try #require(proverView.verifierIceServers?[proverView.verifiers[0]])
        let turn = try #require(verifierServers.first { $0.username != nil })
        let subject = try #require(turn.username?.split(separator: ":", maxSplits: 1).last)
        #expect(
            subject.hasPrefix("\(created.session)/0/") && subject.hasSuffix("/\(proverView.verifiers[0])"),
            "credentials are scoped to session/turn/prover/verifier")

        let peer = try await TestUDPSocket.bind()
        let peerSocket = try #require(peer.localAddress)
        let peerAddress = try #require(TransportAddress(peerSocket))
        let username = try #require(turn.username)
        let password = try #require(turn.credential)
        let prover = try await TURNTestClient(server: turnServer, username: username, password: password)
        let relayed = try #require(try await prover.allocate().attribute(.xorRelayedAddress))
        guard case .xorRelayedAddress(let relayAddress) = relayed else { return }
        let bound = try await prover.request(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(peerAddress)])
        try #require(bound.type.messageClass == .successResponse)

        // The prover streams numbered packets every 2 ms and ignores stream-stop.
        let sent = NIOLockedValueBox(0)
        let sentAt = NIOLockedValueBox<[ContinuousClock.Instant]>([])
        let streaming = Task {
            for sequence in 1...600 {
                var payload = ByteBuffer()
                payload.writeInteger(UInt32(sequence))
                try await prover.send(payload, channel: 0x4000)
                sent.withLockedValue { $0 = sequence }
                sentAt.withLockedValue { $0.append(.now) }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        try #require(await eventually(timeout: .seconds(30)) { sent.withLockedValue { $0 } >= 50 })

        // Both verifiers approve; the turn is decided and its credentials revoked before turn-result is sent.
        let verifiers = views.values.filter { $0.1.role == .verifier }.map(\.0)
        for verifier in verifiers { verifier.connection.send(.vote(turn: 0, vote: .approve)) }
        let voted = ContinuousClock.now
        var sawStreamStop = false
        _ = try await verifiers[0].inbox.first { message -> Bool? in
            if case .streamStop = message { sawStreamStop = true }
            if case .turnResult = message { return true }
            return nil
        }
        let lastSentBeforeResult = sent.withLockedValue { $0 }
        let decided = ContinuousClock.now - voted
        #expect(sawStreamStop, "stream-stop precedes turn-result")
        #expect(revoked.withLockedValue { $0 }.contains("\(created.session)/0"))
        try await streaming.value

        var packets: [UInt32] = []
        while let envelope = try await peer.receiveEnvelope(timeout: .milliseconds(300)) {
            if TransportAddress(envelope.remoteAddress) == relayAddress,
                let sequence = envelope.data.getInteger(at: envelope.data.readerIndex, as: UInt32.self)
            {
                packets.append(sequence)
            }
        }
        #expect(!packets.isEmpty, "nothing was relayed before the decision")
        let late = packets.filter { $0 > lastSentBeforeResult + 1 }
        #expect(late.isEmpty, "relayed after the decision: \(late)")
        let lastRelayed = Int(packets.max()!)
        let lastRelayedSent = sentAt.withLockedValue { $0[lastRelayed - 1] }
        print(
            "stream stop: turn-result \(decided) after the votes; the last relayed packet was sent "
                + "\(lastRelayedSent - voted) after the votes (\(packets.count) relayed)")
        let refused = try await prover.request(.refresh, [.lifetime(600)])
        #expect(refused.errorCode?.code == 401, "the turn's credentials are refused from now on")
        await prover.close()
        await peer.close()
    }
}

/// A member's connection with its inbox, kept together across the test.
final class SignallingConnectionBox: @unchecked Sendable {
    let connection: SignallingConnection
    var inbox: Inbox

    init(connection: SignallingConnection, inbox: Inbox) {
        self.connection = connection
        self.inbox = inbox
    }
}
