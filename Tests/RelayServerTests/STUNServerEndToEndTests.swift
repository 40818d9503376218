import Foundation
import NIOCore
import PartyLineTesting
import RelayServer
import STUN
import ServerTLS
import TURNClient
import Testing

/// Real sockets on loopback: the relay's Binding service over UDP, TCP and TLS, IPv4 and IPv6.
@Suite("STUN server over real sockets")
struct STUNServerEndToEndTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let certificate = TLSCertificateFiles(
        certificateChainPath: fixtures.appendingPathComponent("cert.pem").path,
        privateKeyPath: fixtures.appendingPathComponent("key.pem").path)

    func withServer(_ body: (RelayServer) async throws -> Void) async throws {
        try await RelayServer.withRunning(.loopback(certificate: Self.certificate), body)
    }

    @Test(
        "Binding over every transport and family returns the client's own address",
        arguments: [
            (RelayTransport.udp, false), (.udp, true), (.tcp, false), (.tcp, true), (.tls, false), (.tls, true),
        ])
    func binding(transport: RelayTransport, ipv6: Bool) async throws {
        try await withServer { server in
            let address = try #require(server.address(transport, ipv6: ipv6))
            let url = STUNServerURL(
                scheme: transport == .tls ? .stuns : .stun, host: ipv6 ? "::1" : "127.0.0.1", port: address.port!,
                transport: transport == .udp ? .udp : transport == .tcp ? .tcp : .tls)
            let result = try await STUNClient.binding(
                url, trust: .certificateFile(Self.certificate.certificateChainPath))
            #expect(result.mappedAddress.description.hasPrefix(ipv6 ? "[::1]:" : "127.0.0.1:"))
            #expect(Int(result.mappedAddress.port) == result.localAddress?.port)
            #expect(result.software == "PartyLine test")
            try #require(await eventually { server.statistics()[transport].answered == 1 })
        }
    }

    @Test("every success response carries XOR-MAPPED-ADDRESS, SOFTWARE and a valid FINGERPRINT")
    func responseAttributes() async throws {
        try await withServer { server in
            let socket = try await TestUDPSocket.bind()
            let request = STUNMessage(type: .bindingRequest)
            try await socket.send(request.encoded(), to: try #require(server.address(.udp)))
            let response = try #require(try await socket.receive())
            let view = try STUNMessageView(datagram: response)
            #expect(view.fingerprintOffset != nil)
            let message = try view.decode()
            #expect(message.transactionID == request.transactionID)
            #expect(message.attributes.map(\.type) == [.xorMappedAddress, .software, .fingerprint])
            #expect(message.xorMappedAddress?.port == UInt16(socket.localAddress!.port!))
            await socket.close()
        }
    }

    static let malformedDatagrams: [[UInt8]] = [
        [],
        [0x00, 0x01, 0x00],
        Array(repeating: 0xFF, count: 40),
        [0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 1, count: 12),
        [0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 1, count: 12) + [
            0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4,
        ],
        [0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 1, count: 12) + [0x80, 0x22, 0x00, 0x40],
        // 3,000 bytes, longer than a receive slot (2,048): whole, it would be a Binding request with a
        // PADDING attribute (comprehension-optional, so answered); cut by the kernel, it is malformed.
        [0x00, 0x01, 0x0B, 0xA4, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 1, count: 12) + [0x00, 0x26, 0x0B, 0xA0]
            + Array(repeating: 0, count: 2_976),
    ]

    @Test("malformed datagrams are counted and dropped, never answered; service goes on")
    func malformedDropped() async throws {
        try await withServer { server in
            let socket = try await TestUDPSocket.bind()
            let target = try #require(server.address(.udp))
            for datagram in Self.malformedDatagrams {
                try await socket.send(ByteBuffer(bytes: datagram), to: target)
            }
            let counted = try await eventually { server.statistics()[.udp].malformed == Self.malformedDatagrams.count }
            #expect(counted, "malformed count \(server.statistics()[.udp].malformed)")
            #expect(try await socket.receive(timeout: .milliseconds(300)) == nil)
            try await socket.send(STUNMessage(type: .bindingRequest).encoded(), to: target)
            #expect(try await socket.receive() != nil)
            await socket.close()
        }
    }

    @Test("an unknown comprehension-required attribute gets 420 with UNKNOWN-ATTRIBUTES")
    func unknownAttribute() async throws {
        try await withServer { server in
            let socket = try await TestUDPSocket.bind()
            let request = STUNMessage(
                type: .bindingRequest,
                attributes: [
                    .unknown(type: STUNAttributeType(rawValue: 0x7F01), value: ByteBuffer(bytes: [1, 2, 3, 4]))
                ])
            try await socket.send(request.encoded(fingerprint: true), to: try #require(server.address(.udp)))
            let response = try STUNMessage(datagram: try #require(try await socket.receive()))
            #expect(response.type == .bindingError)
            #expect(response.errorCode?.code == 420)
            #expect(response.attribute(.unknownAttributes) == .unknownAttributes([0x7F01]))
            #expect(response.attribute(.fingerprint) != nil)
            #expect(server.statistics()[.udp].errorResponses == 1)
            await socket.close()
        }
    }

    @Test("requests for methods this server does not offer and indications are silently discarded (RFC 8489 §6.3)")
    func otherMethods() async throws {
        try await withServer { server in
            let socket = try await TestUDPSocket.bind()
            let target = try #require(server.address(.udp))
            let indication = STUNMessage(type: STUNMessageType(method: .binding, messageClass: .indication))
            try await socket.send(indication.encoded(fingerprint: true), to: target)
            #expect(try await socket.receive(timeout: .milliseconds(300)) == nil)
            let allocate = STUNMessage(
                type: STUNMessageType(method: .allocate, messageClass: .request),
                attributes: [
                    .unknown(type: STUNAttributeType(rawValue: 0x7F01), value: ByteBuffer(bytes: [1, 2, 3, 4]))
                ])
            try await socket.send(allocate.encoded(), to: target)
            #expect(try await socket.receive(timeout: .milliseconds(300)) == nil)
            #expect(try await eventually { server.statistics()[.udp].ignored == 2 })
            #expect(server.statistics()[.udp].errorResponses == 0)
            await socket.close()
        }
    }

    @Test("RFC 3489 clients get MAPPED-ADDRESS; a CHANGE-REQUEST with flags gets 420")
    func classicClients() async throws {
        try await withServer { server in
            let socket = try await TestUDPSocket.bind()
            let target = try #require(server.address(.udp))
            let id: [UInt8] = Array(0x10..<0x20)
            try await socket.send(
                ByteBuffer(bytes: [0x00, 0x01, 0x00, 0x08] + id + [0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0]), to: target)
            var response = try #require(try await socket.receive())
            #expect(response.getBytes(at: 0, length: 2) == [0x01, 0x01])
            #expect(response.getBytes(at: 4, length: 16) == id)
            response.moveReaderIndex(forwardBy: 20)
            let mapped = try STUNAttribute(
                type: .mappedAddress, value: response.getSlice(at: response.readerIndex + 4, length: 8)!,
                transactionID: TransactionID(high: 0, low: 0))
            #expect(mapped == .mappedAddress(TransportAddress(socket.localAddress!)!))
            try await socket.send(
                ByteBuffer(bytes: [0x00, 0x01, 0x00, 0x08] + id + [0x00, 0x03, 0x00, 0x04, 0, 0, 0, 6]), to: target)
            let refused = try #require(try await socket.receive())
            #expect(refused.getBytes(at: 0, length: 2) == [0x01, 0x11])
            // RFC 3489 attributes are unpadded: ERROR-CODE's value and UNKNOWN-ATTRIBUTES' list are whole
            // multiples of four bytes, so the attribute after them starts where a 3489 parser expects.
            let errorLength = Int(refused.getInteger(at: 22, as: UInt16.self)!)
            #expect(errorLength % 4 == 0)
            let unknownOffset = 24 + errorLength
            #expect(refused.getInteger(at: unknownOffset, as: UInt16.self) == 0x000A)
            #expect(refused.getInteger(at: unknownOffset + 2, as: UInt16.self) == 4)
            #expect(refused.getBytes(at: unknownOffset + 4, length: 4) == [0x00, 0x03, 0x00, 0x03])
            await socket.close()
        }
    }

    @Test("TCP framing: two messages in one write and one message split over writes are both answered")
    func streamFraming() async throws {
        try await withServer { server in
            let connection = try await TestTCPConnection.connect(to: try #require(server.address(.tcp)))
            let first = STUNMessage(type: .bindingRequest).encoded()
            let second = STUNMessage(type: .bindingRequest).encoded()
            var both = first
            var secondCopy = second
            both.writeBuffer(&secondCopy)
            try await connection.write(both)
            for expected in [first, second] {
                let header = try #require(try await connection.read(count: 20))
                let length = Int(header.getInteger(at: 2, as: UInt16.self)!)
                var whole = header
                var body = try #require(try await connection.read(count: length))
                whole.writeBuffer(&body)
                let response = try STUNMessage(datagram: whole)
                #expect(response.transactionID == (try STUNMessage(datagram: expected)).transactionID)
            }
            let third = STUNMessage(type: .bindingRequest).encoded()
            try await connection.write(third.getSlice(at: 0, length: 7)!)
            try await Task.sleep(for: .milliseconds(50))
            try await connection.write(third.getSlice(at: 7, length: third.readableBytes - 7)!)
            #expect(try await connection.read(count: 20) != nil)
            await connection.close()
        }
    }

    @Test("a TCP stream that is neither STUN nor ChannelData is closed and counted")
    func streamGarbage() async throws {
        try await withServer { server in
            let connection = try await TestTCPConnection.connect(to: try #require(server.address(.tcp)))
            try await connection.write(ByteBuffer(bytes: [0x80, 0x01, 0x02, 0x03, 0x04]))
            #expect(try await connection.waitForClose())
            #expect(try await eventually { server.statistics()[.tcp].connectionsClosedForBadFraming == 1 })
            let fresh = try await TestTCPConnection.connect(to: try #require(server.address(.tcp)))
            try await fresh.write(STUNMessage(type: .bindingRequest).encoded())
            #expect(try await fresh.read(count: 20) != nil)
            await fresh.close()
        }
    }
}
