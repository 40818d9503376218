import Foundation
import LoadGenerator
import NIOCore
import PartyLineServer
import PartyLineTesting
import RelayServer
import STUN
import Synchronization
import TURN
import TURNClient
import Testing

/// The debug log of a whole party (accounts, registrations with locations, sessions, votes, TURN with static
/// and REST credentials) is structured, follows per-subsystem levels, and holds no secret, token, password
/// or location.
extension WholeServerTests {
    @Suite("What the logs never show", .timeLimit(.minutes(2)))
    struct LogSecrecyTests {
        static let secrets = [
            "static-password-4b1d", "rest-secret-77c2", "admin-key-9e3a", "api-key-51f0", "login-secret-0d6e",
        ]

        /// Every line the server logged while `body` ran, at trace level in `format`.
        static func log(
            format: String, extraFlags: [String] = [], _ body: (Int) async throws -> Void
        ) async throws -> (lines: [String], keyFiles: [String]) {
            let folder = WholeServer.folder("logs")
            defer { try? FileManager.default.removeItem(at: folder) }
            // Members learn the signalling URL from the coordinator, so the port is chosen before the start.
            let httpPort = try await RelayServer.freeTCPPort()
            let flags =
                [
                    "--stun-listen-udp", "127.0.0.1:0", "--stun-listen-tcp", "", "--http-listen",
                    "127.0.0.1:\(httpPort)",
                    "--signalling-public-url", "ws://127.0.0.1:\(httpPort)/v1/signal",
                    "--http-stun", "--turn-users", "alice:\(secrets[0])", "--turn-secrets", secrets[1],
                    "--turn-peers-allowed", "127.0.0.0/8", "--turn-relay-addresses", "127.0.0.1",
                    "--coordinator-admin-keys", secrets[2], "--signalling-api-keys", secrets[3],
                    "--coordinator-login-secret", secrets[4], "--data-directory", folder.path,
                    "--coordinator-database-sqlite-path", folder.appendingPathComponent("partyline.sqlite").path,
                    "--log-level", "trace", "--log-format", format,
                ] + extraFlags
            let lines = Mutex<[String]>([])
            try await WholeServer.run(flags, logSink: LogSink { line in lines.withLock { $0.append(line) } }, body)
            let keys = folder.appendingPathComponent("keys")
            let keyFiles = try FileManager.default.contentsOfDirectory(atPath: keys.path).map {
                try String(contentsOf: keys.appendingPathComponent($0), encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return (lines.withLock { $0 }, keyFiles)
        }

        /// TURN over the HTTP port with a static user and with a REST credential, relaying to a peer.
        static func relay(port: Int, username: String, password: String) async throws {
            let peer = try await TestUDPSocket.bind()
            let connection = try await TestTCPConnection.connect(
                to: try SocketAddress(ipAddress: "127.0.0.1", port: port))
            var auth = TURNClientAuthentication(username: username, password: password)
            let peerAddress = try #require(peer.localAddress.flatMap(TransportAddress.init))
            let allocation = try await TURNStreamEndToEndTests.request(
                connection, &auth, .allocate, [.requestedTransport(17)])
            #expect(allocation.type.messageClass == .successResponse)
            let permission = try await TURNStreamEndToEndTests.request(
                connection, &auth, .createPermission, [.xorPeerAddress(peerAddress)])
            #expect(permission.type.messageClass == .successResponse)
            await connection.close()
            await peer.close()
        }

        @Test("a whole party at trace level: structured lines, and no secret, token, password or location")
        func wholeParty() async throws {
            let rest = TURNRESTSecrets([Self.secrets[1]])!.mint(
                subject: "s1/0/prover", ttl: 600, now: UInt64(Date().timeIntervalSince1970))
            let (lines, keyFiles) = try await Self.log(format: "logfmt") { port in
                let result = try await PartyLoadGenerator(
                    baseURL: "http://127.0.0.1:\(port)", adminKey: Self.secrets[2], members: 6, groupSize: 6,
                    startIn: 2,
                    voteDelay: .milliseconds(20), votesFile: nil, validatedFile: nil
                ).run { _ in }
                // A loaded machine may leave a member regrouped or late; the log is what this test is about.
                #expect(result.votesAcknowledged > 0, "\(result)")
                try await Self.relay(port: port, username: "alice", password: Self.secrets[0])
                try await Self.relay(port: port, username: rest.username, password: rest.password)
            }
            #expect(lines.count > 20)
            #expect(lines.contains { $0.contains("subsystem=relay") && $0.contains("level=trace") })
            #expect(lines.contains { $0.contains("subsystem=coordinator") || $0.contains("subsystem=parties") })
            let structured = try Regex(
                #"^time=\S+ level=(trace|debug|info|notice|warning|error|critical) subsystem=\w+ msg="#)
            for line in lines { #expect(line.contains(structured), "\(line)") }

            let forbidden = Self.secrets + [rest.password] + keyFiles
            let token = try Regex(#"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{43}"#)
            let coordinate = try Regex(#"\b5[0-5]\.\d{6}\b"#)
            for line in lines {
                for secret in forbidden { #expect(!line.contains(secret), "a secret in: \(line)") }
                #expect(!line.contains(token), "a signed token in: \(line)")
                #expect(!line.contains(coordinate), "a coordinate in: \(line)")
                #expect(!line.lowercased().contains("latitude") && !line.lowercased().contains("longitude"), "\(line)")
            }
        }

        @Test("JSON lines; a subsystem's own level overrides log.level")
        func jsonAndLevels() async throws {
            let (lines, _) = try await Self.log(format: "json", extraFlags: ["--log-levels", "relay=critical"]) {
                port in
                try await Self.relay(port: port, username: "alice", password: Self.secrets[0])
                #expect(try await HTTPTestCall.call(port: port, "GET", "/healthz").status == 200)
            }
            #expect(!lines.isEmpty)
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                #expect(object?["time"] != nil && object?["level"] != nil && object?["msg"] != nil, "\(line)")
                #expect(object?["subsystem"] != "relay", "relay logs only critical: \(line)")
            }
            #expect(lines.contains { $0.contains(#""subsystem":"server""#) })
        }
    }
}
