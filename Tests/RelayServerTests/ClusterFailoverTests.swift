import Foundation
import Logging
import NIOCore
import PartyLineServer
import PartyLineTesting
import PostgresKit
import RelayServer
import STUN
import TURN
import Testing

/// One whole server as a node of a cluster on loopback, started and stopped by the test.
struct ClusterTestNode {
    let id: String
    let port: Int
    let app: PartyLineApp
    let run: Task<Void, any Error>
    let folder: URL

    /// Starts node `id` on a free HTTP port (advertised to the other nodes as that port).
    static func start(_ id: String, database: String, flags extra: [String] = []) async throws -> ClusterTestNode {
        let port = try await RelayServer.freeTCPPort()
        let folder = WholeServer.folder("cluster-\(id)")
        let configuration = try await PartyLineConfiguration.load(
            configFile: nil,
            flags: [
                "--stun-listen-udp", "127.0.0.1:0", "--stun-listen-tcp", "", "--http-listen", "127.0.0.1:\(port)",
                "--coordinator-database-postgres-url", database, "--coordinator-admin-keys", "admin",
                "--data-directory", folder.path, "--cluster-node-id", id,
                "--cluster-advertise-http", "http://127.0.0.1:\(port)", "--cluster-heartbeat-interval", "0.2",
                "--cluster-dead-after", "1", "--log-level", "critical",
            ] + extra, environment: [:])
        let (ports, reportPort) = AsyncStream<Int>.makeStream()
        let app = PartyLineApp(configuration: configuration, onHTTPRunning: { reportPort.yield($0) })
        let run = Task {
            defer { reportPort.finish() }
            try await app.run()
        }
        var iterator = ports.makeAsyncIterator()
        _ = try #require(await iterator.next())
        return ClusterTestNode(id: id, port: port, app: app, run: run, folder: folder)
    }

    /// Stops the node as SIGTERM would and waits for it to end.
    func stop() async throws {
        app.stop()
        try await run.value
        try? FileManager.default.removeItem(at: folder)
    }

    func call(_ method: String, _ path: String, body: String? = nil, bearer: String? = "admin") async throws
        -> HTTPTestCall.Reply
    {
        try await HTTPTestCall.call(port: port, method, path, body: body, bearer: bearer)
    }

    /// The node the cluster's table names as the coordinator's holder, once one does (about 10 s at most).
    func holder() async throws -> String? {
        for _ in 0..<100 {
            let nodes = try await call("GET", "/v1/cluster/nodes").json["nodes"] as? [[String: Any]] ?? []
            if let holder = nodes.first(where: { $0["coordinator"] as? Bool == true && $0["live"] as? Bool == true }) {
                return holder["id"] as? String
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}

extension WholeServerTests {
    @Suite("Two nodes on one PostgreSQL", .enabled(if: TestPostgres.url != nil))
    struct ClusterFailoverTests {
        static let draft = #"{"name":"c","registrationOpensAt":1,"registrationClosesAt":2,"startsAt":4102444800}"#

        @Test("the standby forwards the coordinator's API to the holder, and takes over with the stored state")
        func failover() async throws {
            let database = try await TestPostgres.freshDatabase()
            let first = try await ClusterTestNode.start("node-a", database: database)
            #expect(try await first.holder() == "node-a")
            let second = try await ClusterTestNode.start("node-b", database: database)

            // Written through the standby: forwarded to the holder, acknowledged once committed there.
            let created = try await second.call("POST", "/v1/parties", body: Self.draft)
            #expect(created.status == 201)
            let party = try #require(created.json["id"] as? String)
            #expect(try await first.call("GET", "/v1/parties/\(party)").json["id"] as? String == party)
            #expect(try await second.call("GET", "/v1/parties/\(party)").json["id"] as? String == party)
            // The holder's refusals come back as they are.
            #expect(try await second.call("GET", "/v1/parties/missing").status == 404)

            try await first.stop()
            #expect(try await second.holder() == "node-b")
            var read = try await second.call("GET", "/v1/parties/\(party)")
            for _ in 0..<50 where read.status == 503 {
                #expect(read.json["code"] as? String == "coordinator-unavailable")
                try await Task.sleep(for: .milliseconds(100))
                read = try await second.call("GET", "/v1/parties/\(party)")
            }
            #expect(read.status == 200 && read.json["id"] as? String == party)
            #expect(try await second.call("POST", "/v1/parties", body: Self.draft).status == 201)
            let nodes = try await second.call("GET", "/v1/cluster/nodes").json["nodes"] as? [[String: Any]] ?? []
            #expect(nodes.compactMap { $0["id"] as? String } == ["node-b"])
            // docs/api.md shows a node with exactly the fields a node has.
            let documented = try DocumentedCluster.example(containing: "deadAfterMilliseconds")
            let documentedNode = try #require((documented["nodes"] as? [[String: Any]])?.first)
            #expect(Set(documentedNode.keys) == Set(try #require(nodes.first).keys))
            try await second.stop()
        }

        @Test("a subject revoked through one node is refused by another node's relay, and its stream stops there")
        func revocationAcrossRelays() async throws {
            let database = try await TestPostgres.freshDatabase()
            let secret = "fleet-secret"
            func relayFlags(_ port: Int) -> [String] {
                [
                    "--stun-listen-udp", "127.0.0.1:\(port)", "--turn-secrets", secret,
                    "--turn-relay-addresses", "127.0.0.1", "--turn-peers-allowed", "127.0.0.0/8",
                ]
            }
            let first = try await ClusterTestNode.start(
                "node-a", database: database, flags: relayFlags(try await RelayServer.withFreeUDPPort()))
            let relayPort = try await RelayServer.withFreeUDPPort()
            let second = try await ClusterTestNode.start("node-b", database: database, flags: relayFlags(relayPort))
            let secrets = try #require(TURNRESTSecrets([secret]))
            let now = UInt64(Date().timeIntervalSince1970)
            let relay = try SocketAddress(ipAddress: "127.0.0.1", port: relayPort)
            let peer = try await TestUDPSocket.bind()
            let peerSocket = try #require(peer.localAddress)
            let peerAddress = try #require(TransportAddress(peerSocket))
            var clients: [TURNTestClient] = []
            for subject in ["party-9/session-1/0", "party-9/session-1/1"] {
                let credential = secrets.mint(subject: subject, ttl: 600, now: now)
                let client = try await TURNTestClient(
                    server: relay, username: credential.username, password: credential.password)
                _ = try TURNRelayEndToEndTests.relayed(try await client.allocate())
                let bound = try await client.request(
                    .channelBind, [.channelNumber(0x4000), .xorPeerAddress(peerAddress)])
                try #require(bound.type.messageClass == .successResponse)
                clients.append(client)
            }
            let (prover, bystander) = (clients[0], clients[1])
            try await prover.send(ByteBuffer(string: "before"), channel: 0x4000)
            #expect(try await peer.receiveEnvelope()?.data == ByteBuffer(string: "before"))

            let revoked = try await first.call(
                "POST", "/v1/admin/revocations", body: #"{"subjectPrefix":"party-9/session-1/0"}"#)
            #expect(revoked.status == 200 && revoked.json["cluster"] as? Bool == true)
            let documented = try DocumentedCluster.example(containing: "allocationsClosed")
            #expect(Set(documented.keys) == Set(revoked.json.keys))
            #expect(revoked.json["allocationsClosed"] as? Int == 0)
            // Node B's relay learns of it through the database; the prover's credentials are refused there.
            var refused = false
            for _ in 0..<50 where !refused {
                refused = try await prover.request(.refresh, [.lifetime(600)]).errorCode?.code == 401
                if !refused { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(refused)
            try await prover.send(ByteBuffer(string: "after"), channel: 0x4000)
            try await bystander.send(ByteBuffer(string: "bystander"), channel: 0x4000)
            var arrived: [ByteBuffer] = []
            while let envelope = try await peer.receiveEnvelope(timeout: .milliseconds(300)) {
                arrived.append(envelope.data)
            }
            #expect(arrived == [ByteBuffer(string: "bystander")])
            for client in clients { await client.close() }
            await peer.close()
            #expect(try await second.call("POST", "/v1/admin/revocations", body: "{}").status == 400)
            #expect(
                try await second.call("POST", "/v1/admin/revocations", body: #"{"subjectPrefix":"x"}"#, bearer: nil)
                    .status == 401)
            try await second.stop()
            try await first.stop()
        }

        @Test("with no holder, a standing-by node answers 503 coordinator-unavailable with Retry-After")
        func noHolder() async throws {
            let database = try await TestPostgres.freshDatabase()
            let port = try await RelayServer.freeTCPPort()
            let folder = WholeServer.folder("cluster-relay")
            defer { try? FileManager.default.removeItem(at: folder) }
            try await WholeServer.run(
                [
                    "--stun-listen-udp", "127.0.0.1:0", "--stun-listen-tcp", "", "--http-listen", "127.0.0.1:\(port)",
                    "--coordinator-database-postgres-url", database, "--data-directory", folder.path,
                    "--cluster-node-id", "relay-only", "--cluster-roles", "relay,signalling",
                    "--log-level", "critical",
                ]
            ) { port in
                let reply = try await HTTPTestCall.call(port: port, "GET", "/v1/parties")
                #expect(reply.status == 503 && reply.json["code"] as? String == "coordinator-unavailable")
                #expect(reply.headers["retry-after"] == "1")
                let documented = try DocumentedCluster.example(containing: "coordinator-unavailable")
                #expect(documented as NSDictionary == reply.json as NSDictionary)
                #expect(try await HTTPTestCall.call(port: port, "GET", "/readyz").status == 200)
            }
        }
    }
}

/// The JSON examples of docs/api.md's cluster section.
enum DocumentedCluster {
    /// The first JSON object in a code block of docs/api.md that contains `text`.
    static func example(containing text: String) throws -> [String: Any] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/api.md").standardizedFileURL
        let document = try String(contentsOf: path, encoding: .utf8)
        for block in document.components(separatedBy: "```").enumerated() where block.offset % 2 == 1 {
            guard block.element.contains(text), let start = block.element.firstIndex(of: "{") else { continue }
            let json = block.element[start...]
            if let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] {
                return object
            }
        }
        throw CocoaError(.fileReadCorruptFile)
    }
}
