import Foundation
import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import Shared
import Signalling
import SignallingServer
import TURN
import Testing

/// A prover's phone opens one peer connection per verifier, and each gathers an allocation per TURN URL and
/// network. The per-verifier credentials keep each connection within the relay's per-subject quota.
@Suite("A prover's TURN credentials fit the largest group", .timeLimit(.minutes(1)))
struct ProverQuotaTests {
    @Test("eleven verifiers × two networks × two TURN URLs: 44 allocations, none refused; one subject alone gets 486")
    func proverFitsElevenVerifiers() async throws {
        try await SignallingHarness.withRelay(transports: ["udp", "tcp"]) { harness, turnServer in
            let created = try await harness.createSession(members: (1...12).map { "m\($0)" })
            let members = try await harness.joinAll(created)
            let prover = try #require(members.first { $0.2.role == .prover }).2
            let perVerifier = try #require(prover.verifierIceServers)
            #expect(perVerifier.count == 11)
            var clients: [TURNTestClient] = []
            // Each connection: one allocation per TURN URL on each of two networks (Wi-Fi and cellular).
            // `allocate()` throws on any refusal, so all 44 must succeed.
            for (_, servers) in perVerifier {
                let turn = try #require(servers.first { $0.username != nil })
                for _ in 0..<(2 * turn.urls.count) {
                    let client = try await TURNTestClient(
                        server: turnServer, username: turn.username!, password: turn.credential!)
                    clients.append(client)
                    try await client.allocate()
                }
            }
            // The same allocations on the prover's one member credential would pass the quota of 10.
            let shared = try #require(prover.iceServers.first { $0.username != nil })
            var refused: Int?
            for attempt in 1...11 {
                let client = try await TURNTestClient(
                    server: turnServer, username: shared.username!, password: shared.credential!)
                clients.append(client)
                do {
                    try await client.allocate()
                } catch TURNTestClientError.refused(let response) {
                    refused = attempt
                    #expect(response.errorCode?.code == 486)
                    break
                }
            }
            #expect(refused == 11)
            for client in clients { await client.close() }
        }
    }
}
