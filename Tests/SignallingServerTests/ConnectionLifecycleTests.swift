import Foundation
import Logging
import NIOCore
import PartyLineTesting
import Signalling
import SignallingClient
import SignallingServer
import Testing

@Suite("One live connection per member, and ghosts expire", .timeLimit(.minutes(1)))
struct ConnectionLifecycleTests {
    @Test("a second connection with the same token replaces the first at once (close 4001), and resumes")
    func replacement() async throws {
        try await SignallingHarness.withRunning { harness in
            let created = try await harness.createSession(members: ["a", "b", "c"])
            let first = harness.join(created.members[0].token)
            var firstInbox = Inbox(first)
            let welcome = try await firstInbox.first { if case .welcome(let welcome) = $0 { welcome } else { nil } }
            #expect(!welcome.resumed)
            let second = harness.join(created.members[0].token)
            var secondInbox = Inbox(second)
            let again = try await secondInbox.first { if case .welcome(let welcome) = $0 { welcome } else { nil } }
            #expect(again.resumed && again.you == welcome.you)
            let close = try await first.closed()
            #expect(close == .init(code: 4001, reason: "replaced"))
            second.send(.ping)
            #expect(try await secondInbox.first { $0 == .pong ? true : nil })
            let state = try await harness.call("GET", "/v1/sessions/\(created.session)")
            let members = try #require(state.json["members"] as? [[String: Any]])
            #expect(members.first { $0["member"] as? String == "a" }?["presence"] as? String == "joined")
        }
    }

    @Test("a connection that stops answering pings is closed within seconds and its member is reconnecting")
    func ghost() async throws {
        try await SignallingHarness.withRunning { harness in
            let created = try await harness.createSession(members: ["a", "b", "c"])
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: harness.port)
            let ghost = try await TestTCPConnection.connect(to: address)
            try await ghost.write(
                ByteBuffer(
                    string:
                        "GET /v1/signal HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
            let join = Array(ClientMessage.join(version: 1, token: created.members[0].token).encoded().utf8)
            try await ghost.write(Self.maskedTextFrame(join))
            // The ghost reads nothing and never answers a ping (heartbeat 1 s in the harness).
            #expect(
                try await eventually(timeout: .seconds(3)) {
                    let state = try await harness.call("GET", "/v1/sessions/\(created.session)")
                    let members = state.json["members"] as? [[String: Any]] ?? []
                    return members.first { $0["member"] as? String == "a" }?["presence"] as? String == "joined"
                })
            #expect(try await ghost.waitForClose(timeout: .seconds(10)), "the server closed the silent connection")
            let state = try await harness.call("GET", "/v1/sessions/\(created.session)")
            let members = try #require(state.json["members"] as? [[String: Any]])
            #expect(members.first { $0["member"] as? String == "a" }?["presence"] as? String == "reconnecting")
        }
    }

    @Test("a connection that never joins is dropped after the join timeout")
    func silentConnection() async throws {
        try await SignallingHarness.withRunning { harness in
            let silent = try await Self.upgradedConnection(port: harness.port)
            #expect(try await silent.waitForClose(timeout: .seconds(5)))
        }
    }

    @Test("a member who keeps sending unusable frames is closed after twenty and counts as dropped")
    func invalidFrames() async throws {
        try await SignallingHarness.withRunning { harness in
            let created = try await harness.createSession(members: ["a", "b", "c"])
            let connection = harness.join(created.members[0].token)
            var inbox = Inbox(connection)
            _ = try await inbox.first { if case .welcome(let welcome) = $0 { welcome } else { nil } }
            for _ in 0..<21 { connection.send(text: "not json") }
            var refusals = 0
            while let message = await inbox.next() {
                if case .error("invalid-json", _) = message { refusals += 1 }
            }
            // Reaching this line means the server closed the connection (otherwise the inbox never ends and
            // the time limit fails the test); the refusals it flushed before closing vary with timing.
            #expect(refusals <= 21)
            #expect(
                try await eventually {
                    let state = try await harness.call("GET", "/v1/sessions/\(created.session)")
                    let members = state.json["members"] as? [[String: Any]] ?? []
                    return members.first { $0["member"] as? String == "a" }?["presence"] as? String == "reconnecting"
                })
        }
    }

    static func upgradedConnection(port: Int) async throws -> TestTCPConnection {
        let connection = try await TestTCPConnection.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port))
        try await connection.write(
            ByteBuffer(
                string: "GET /v1/signal HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        return connection
    }

    /// A client-to-server WebSocket text frame (RFC 6455 §5.2: FIN, opcode 1, masked).
    static func maskedTextFrame(_ payload: [UInt8]) -> ByteBuffer {
        HostileClientTests.frame(fin: true, opcode: 0x1, payload)
    }
}
