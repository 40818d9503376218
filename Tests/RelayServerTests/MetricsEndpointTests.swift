import AsyncHTTPClient
import CoordinatorServer
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PartyLineServer
import PartyLineTesting
import RelayServer
import STUN
import Signalling
import SignallingClient
import SignallingServer
import TURN
import Testing

/// The whole server in-process on loopback: what `/metrics`, `/healthz` and `/readyz` report after real
/// STUN, TURN, signalling and coordinator traffic.
extension WholeServerTests {
    @Suite("Metrics and health endpoints")
    struct MetricsEndpointTests {
        static let adminKey = "metrics-admin"
        static let apiKey = "metrics-api"

        /// Runs PartyLine with its HTTP listener (which also takes TURN over TCP) on a free loopback port.
        static func withServer(
            metricsAllowed: [IPNetwork] = PartyLineConfiguration.privateNetworks, _ body: (Int) async throws -> Void
        ) async throws {
            let folder = WholeServer.folder("metrics")
            defer { try? FileManager.default.removeItem(at: folder) }
            try await WholeServer.run(
                [
                    "--stun-listen-udp", "127.0.0.1:0", "--stun-listen-tcp", "", "--http-listen", "127.0.0.1:0",
                    "--http-stun", "--turn-users", "alice:wonderland", "--turn-peers-allowed", "127.0.0.0/8",
                    "--turn-relay-addresses", "127.0.0.1", "--coordinator-admin-keys", adminKey,
                    "--signalling-api-keys", apiKey, "--data-directory", folder.path,
                    "--coordinator-database-sqlite-path",
                    folder.appendingPathComponent("partyline.sqlite").path, "--log-level", "critical",
                ], configure: { $0.metricsAllowed = metricsAllowed }, body)
        }

        /// The samples of a Prometheus text body, keyed by series (`name{labels}`).
        static func samples(_ text: String) -> [String: Double] {
            var samples: [String: Double] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                    continue
                }
                samples[String(line[..<space])] = value
            }
            return samples
        }

        @Test("/metrics counts TURN requests, relayed packets and bytes, WebSockets, sessions, commits and HTTP")
        func metrics() async throws {
            try await Self.withServer { port in
                #expect(try await HTTPTestCall.call(port: port, "GET", "/healthz").status == 200)
                let ready = try await HTTPTestCall.call(port: port, "GET", "/readyz")
                #expect(ready.status == 200 && ready.json["ready"] as? Bool == true)

                // TURN over TCP on the HTTP port: challenged, allocated, a channel, 5 bytes each way.
                let peer = try await TestUDPSocket.bind()
                let connection = try await TestTCPConnection.connect(
                    to: try SocketAddress(ipAddress: "127.0.0.1", port: port))
                _ = try await OnePortEndToEndTests.relayOverStream(connection, to: peer)

                // A coordinator commit, and a signalling session with one member on its WebSocket.
                let party = try await HTTPTestCall.call(
                    port: port, "POST", "/v1/parties",
                    body: #"{"name":"m","registrationOpensAt":1,"registrationClosesAt":2,"startsAt":4102444800}"#,
                    bearer: Self.adminKey)
                #expect(party.status == 201)
                let session = try await HTTPTestCall.call(
                    port: port, "POST", "/v1/sessions", body: #"{"members":["a","b","c"]}"#, bearer: Self.apiKey)
                let members = try #require(session.json["members"] as? [[String: Any]])
                let member = SignallingConnection(
                    url: "ws://127.0.0.1:\(port)/v1/signal", logger: Logger(label: "test.metrics"))
                member.send(.join(version: 1, token: try #require(members[0]["token"] as? String)))
                var messages = member.messages.makeAsyncIterator()
                guard case .welcome = await messages.next() else { throw TURNTestClientError.noResponse(.binding) }

                #expect(try await HTTPTestCall.call(port: port, "GET", "/no-such-page").status == 404)
                let scraped = try await HTTPTestCall.call(port: port, "GET", "/metrics")
                #expect(scraped.status == 200)
                let samples = Self.samples(scraped.text)
                #expect(samples[#"partyline_turn_requests_total{method="Allocate",code="401"}"#] == 1)
                #expect(samples[#"partyline_turn_requests_total{method="Allocate",code="200"}"#] == 1)
                #expect(samples[#"partyline_turn_requests_total{method="ChannelBind",code="200"}"#] == 1)
                #expect(samples[#"partyline_turn_auth_refusals_total{reason="challenge"}"#] == 1)
                #expect(samples[#"partyline_relay_packets_total{direction="to-peer",transport="tcp"}"#] == 1)
                #expect(samples[#"partyline_relay_bytes_total{direction="to-peer",transport="tcp"}"#] == 5)
                #expect(samples[#"partyline_relay_packets_total{direction="to-client",transport="tcp"}"#] == 1)
                #expect(samples[#"partyline_relay_bytes_total{direction="to-client",transport="tcp"}"#] == 9)
                #expect(samples["partyline_turn_allocations"] == 1)
                #expect(samples["partyline_turn_channels"] == 1)
                #expect(samples["partyline_signalling_websockets"] == 1)
                #expect(samples[#"partyline_signalling_sessions{state="waiting"}"#] == 1)
                #expect(samples["partyline_signalling_sessions_created_total"] == 1)
                // swift-metrics series are process-wide: other tests' servers in this process add to them.
                #expect(samples[#"partyline_coordinator_operations_total{result="committed"}"#] ?? 0 >= 1)
                #expect(samples["partyline_coordinator_commit_seconds_count"] ?? 0 >= 1)
                #expect(
                    samples[
                        #"hb_requests{http_route="/v1/sessions",http_request_method="POST",http_response_status_code="201"}"#
                    ] ?? 0 >= 1)
                #expect((samples["process_open_fds"] ?? 0) > 0)

                // Every series docs/operations.md lists and the Grafana dashboard queries is in the scrape.
                let exposed = Set(
                    scraped.text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map {
                        String($0.split(separator: " ")[2])
                    })
                for name in try Self.documentedSeries() {
                    #expect(exposed.contains(name), "\(name) is documented but not exposed")
                }

                // A second scrape adds nothing that did not happen.
                let again = Self.samples(try await HTTPTestCall.call(port: port, "GET", "/metrics").text)
                #expect(again[#"partyline_relay_bytes_total{direction="to-peer",transport="tcp"}"#] == 5)
                member.close()
                await connection.close()
                await peer.close()
            }
        }

        /// Metric names in docs/operations.md's table and docs/grafana-dashboard.json's queries.
        static func documentedSeries() throws -> Set<String> {
            let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs")
            let text =
                try String(contentsOf: docs.appendingPathComponent("operations.md"), encoding: .utf8)
                + String(contentsOf: docs.appendingPathComponent("grafana-dashboard.json"), encoding: .utf8)
            let pattern = try Regex(#"\b(partyline_[a-z_]+|hb_[a-z_]+|http_server_[a-z_]+|process_[a-z_]+)\b"#)
            var names: Set<String> = []
            for match in text.matches(of: pattern) {
                var name = String(text[match.range])
                for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) {
                    name = String(name.dropLast(suffix.count))
                }
                names.insert(name)
            }
            return names
        }

        @Test("/metrics is not found from a network that is not allowed")
        func notAllowed() async throws {
            try await Self.withServer(metricsAllowed: [IPNetwork(parsing: "10.0.0.0/8")!]) { (port: Int) async throws in
                #expect(try await HTTPTestCall.call(port: port, "GET", "/metrics").status == 404)
                #expect(try await HTTPTestCall.call(port: port, "GET", "/healthz").status == 200)
            }
        }
    }
}
