import Foundation
import HTTPHost
import NIOCore
import PartyLineTesting
import Signalling
import SignallingClient
import SignallingServer
import Testing

/// Clients that break the rules of HTTP and WebSocket on purpose, over real sockets on loopback.
@Suite("Hostile HTTP and WebSocket clients")
struct HostileClientTests {
    /// A joined raw WebSocket connection of the first member of a new session.
    static func joined(_ harness: SignallingHarness) async throws -> TestTCPConnection {
        let created = try await harness.createSession(members: ["a", "b", "c"])
        let connection = try await ConnectionLifecycleTests.upgradedConnection(port: harness.port)
        let join = #"{"type":"join","version":1,"token":"\#(created.members[0].token)"}"#
        try await connection.write(ConnectionLifecycleTests.maskedTextFrame(Array(join.utf8)))
        #expect(try await eventually(timeout: .seconds(5)) { String(buffer: connection.unread()).contains("welcome") })
        return connection
    }

    /// A masked client frame with any FIN bit and opcode (RFC 6455 §5.2).
    static func frame(fin: Bool, opcode: UInt8, _ payload: [UInt8]) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(UInt8((fin ? 0x80 : 0) | opcode))
        if payload.count < 126 {
            frame.writeInteger(UInt8(0x80 | payload.count))
        } else {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(payload.count))
        }
        let mask: [UInt8] = [0x0A, 0x0B, 0x0C, 0x0D]
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return frame
    }

    /// The status code of the close frame the server sent, read from the raw bytes after the 101 response.
    static func closeCode(_ connection: TestTCPConnection) throws -> UInt16? {
        var bytes = connection.unread()
        let text = String(buffer: bytes)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        bytes.moveReaderIndex(forwardBy: text.utf8.distance(from: text.startIndex, to: headEnd.upperBound))
        while bytes.readableBytes >= 2 {
            let first = bytes.readInteger(as: UInt8.self)!
            var length = Int(bytes.readInteger(as: UInt8.self)! & 0x7F)
            if length == 126 { length = Int(bytes.readInteger(as: UInt16.self) ?? 0) }
            if length == 127 { length = Int(bytes.readInteger(as: UInt64.self) ?? 0) }
            guard let payload = bytes.readSlice(length: length) else { return nil }
            if first & 0x0F == 0x8 { return payload.getInteger(at: 0, as: UInt16.self) }
        }
        return nil
    }

    @Test("a 70 KiB message sent in 8 KiB fragments is closed with 1009, and the member counts as dropped")
    func fragmentedOversize() async throws {
        try await SignallingHarness.withRunning { harness in
            let connection = try await Self.joined(harness)
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 8 * 1024)
            try await connection.write(Self.frame(fin: false, opcode: 0x1, chunk))
            for index in 1..<9 { try await connection.write(Self.frame(fin: index == 8, opcode: 0x0, chunk)) }
            #expect(try await connection.waitForClose(timeout: .seconds(10)))
            #expect(try Self.closeCode(connection) == 1009)
        }
    }

    @Test("invalid UTF-8 in a text frame is closed with 1007, before and after the join")
    func invalidUTF8() async throws {
        try await SignallingHarness.withRunning { harness in
            let joined = try await Self.joined(harness)
            try await joined.write(Self.frame(fin: true, opcode: 0x1, [0x7B, 0xFF, 0xFE, 0x7D]))
            #expect(try await joined.waitForClose(timeout: .seconds(10)))
            #expect(try Self.closeCode(joined) == 1007)
            let fresh = try await ConnectionLifecycleTests.upgradedConnection(port: harness.port)
            try await fresh.write(Self.frame(fin: true, opcode: 0x1, [0xC3, 0x28]))
            #expect(try await fresh.waitForClose(timeout: .seconds(10)))
            #expect(try Self.closeCode(fresh) == 1007)
        }
    }

    @Test("a member who sent leave cannot join again with its token (member-left, close 1000)")
    func leaveIsForGood() async throws {
        try await SignallingHarness.withRunning { harness in
            let created = try await harness.createSession(members: ["a", "b", "c"])
            let first = harness.join(created.members[0].token)
            var inbox = Inbox(first)
            _ = try await inbox.first { if case .welcome(let welcome) = $0 { welcome } else { nil } }
            first.send(.leave)
            while await inbox.next() != nil {}
            let again = harness.join(created.members[0].token)
            var refused = Inbox(again)
            let code = try await refused.first { if case .error(let code, _) = $0 { code } else { nil } }
            #expect(code == "member-left")
            #expect(await refused.next() == nil)
        }
    }

    @Test("a connection that sends no complete request head is closed at the head timeout, however slowly it drips")
    func slowHeads() async throws {
        let limits = HTTPConnectionLimits(requestHeadTimeout: .milliseconds(500))
        try await SignallingHarness.withRunning(limits: limits) { harness in
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: harness.port)
            let silent = try await TestTCPConnection.connect(to: address)
            // Line breaks before a request line start no request (the parser skips them).
            let blankLines = try await TestTCPConnection.connect(to: address)
            try await blankLines.write(ByteBuffer(string: "\r\n\r\n\r\n"))
            let dripping = try await TestTCPConnection.connect(to: address)
            let head = Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8)
            // One byte every 40 ms, for longer than the timeout: the server closes it midway.
            for byte in head.prefix(30) where dripping.isActive {
                try? await dripping.write(ByteBuffer(bytes: [byte]))
                try await Task.sleep(for: .milliseconds(40))
            }
            #expect(try await silent.waitForClose(timeout: .seconds(5)))
            #expect(try await blankLines.waitForClose(timeout: .seconds(5)))
            #expect(try await dripping.waitForClose(timeout: .seconds(5)))
            // A client that sends its head in time is answered.
            let prompt = try await TestTCPConnection.connect(to: address)
            try await prompt.write(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            #expect(try await eventually(timeout: .seconds(5)) { String(buffer: prompt.unread()).hasSuffix("ok") })
            // The head timer is gone once the head arrived: the connection outlives it.
            try await Task.sleep(for: .milliseconds(800))
            #expect(prompt.isActive)
            await prompt.close()
        }
    }

    @Test("HTTP connections beyond the per-address cap are closed at once; others are served")
    func connectionCap() async throws {
        let limits = HTTPConnectionLimits(maxConnectionsPerAddress: 4)
        try await SignallingHarness.withRunning(limits: limits) { harness in
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: harness.port)
            var connections: [TestTCPConnection] = []
            for _ in 0..<5 { connections.append(try await TestTCPConnection.connect(to: address)) }
            // Event loops admit in any order: exactly one of the five is closed, whichever came last.
            let oneClosed = try await eventually(timeout: .seconds(5)) {
                connections.filter { !$0.isActive }.count == 1
            }
            #expect(oneClosed)
            try await Task.sleep(for: .milliseconds(300))
            let idle = connections.filter(\.isActive)
            #expect(idle.count == 4)
            await idle[0].close()
            let served = try await eventually(timeout: .seconds(5)) {
                let reply = try? await HTTPTestCall.call(port: harness.port, "GET", "/healthz")
                return reply?.status == 200
            }
            #expect(served)
            for connection in connections { await connection.close() }
        }
    }
}
