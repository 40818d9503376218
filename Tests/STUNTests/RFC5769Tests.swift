import NIOCore
import TestRandom
import Testing

@testable import STUN

@Suite("RFC 5769 and RFC 8489 test vectors")
struct RFC5769Tests {
    let shortTermKey = try! STUNKey.shortTerm(password: TestVectors.password)

    @Test("2.1 sample request: decodes, verifies, re-encodes byte for byte")
    func sampleRequest() throws {
        let bytes = TestVectors.sampleRequest
        #expect(bytes.readableBytes == 108)
        let view = try STUNMessageView(datagram: bytes)
        #expect(view.type == .bindingRequest)
        #expect(view.checkIntegrity(key: shortTermKey) == .valid(.hmacSHA1))
        let message = try view.decode()
        #expect(message.software == "STUN test client")
        #expect(message.username == "evtj:h6vY")
        #expect(message.attribute(.priority) == .priority(0x6E00_01FF))
        #expect(message.attribute(.iceControlled) == .iceControlled(tieBreaker: 0x932F_F9B1_5126_3B36))
        #expect(message.encoded(paddingByte: 0x20) == bytes)
        #expect(
            resigned(message).encoded(signing: STUNSigning(key: shortTermKey), fingerprint: true, paddingByte: 0x20)
                == bytes)
    }

    @Test("2.2 IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853")
    func ipv4Response() throws {
        let bytes = TestVectors.ipv4Response
        let view = try STUNMessageView(datagram: bytes)
        #expect(view.checkIntegrity(key: shortTermKey) == .valid(.hmacSHA1))
        let message = try view.decode()
        #expect(message.type == .bindingSuccess)
        #expect(message.xorMappedAddress == TransportAddress(ip: .v4(0xC000_0201), port: 32853))
        #expect(message.xorMappedAddress?.description == "192.0.2.1:32853")
        #expect(message.software == "test vector")
        #expect(message.encoded(paddingByte: 0x20) == bytes)
        #expect(
            resigned(message).encoded(signing: STUNSigning(key: shortTermKey), fingerprint: true, paddingByte: 0x20)
                == bytes)
    }

    @Test("2.3 IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853")
    func ipv6Response() throws {
        let bytes = TestVectors.ipv6Response
        let view = try STUNMessageView(datagram: bytes)
        #expect(view.checkIntegrity(key: shortTermKey) == .valid(.hmacSHA1))
        let message = try view.decode()
        #expect(message.xorMappedAddress?.description == "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
        #expect(message.encoded(paddingByte: 0x20) == bytes)
        #expect(
            resigned(message).encoded(signing: STUNSigning(key: shortTermKey), fingerprint: true, paddingByte: 0x20)
                == bytes)
    }

    @Test("2.4 long-term request: SASLprep-ed MD5 key verifies and re-signs")
    func longTermRequest() throws {
        let bytes = TestVectors.longTermRequest
        let key = try #require(
            try STUNKey.longTerm(
                username: TestVectors.longTermUsername, realm: "example.org", password: TestVectors.longTermPassword))
        let view = try STUNMessageView(datagram: bytes)
        #expect(view.checkIntegrity(key: key) == .valid(.hmacSHA1))
        let message = try view.decode()
        #expect(message.username == TestVectors.longTermUsername)
        #expect(message.nonce == "f//499k954d6OL34oL9FSTvy64sA")
        #expect(message.realm == "example.org")
        #expect(message.encoded() == bytes)
        #expect(resigned(message).encoded(signing: STUNSigning(key: key)) == bytes)
        let wrongKey = try #require(
            try STUNKey.longTerm(
                username: TestVectors.longTermUsername, realm: "example.org", password: "TheMatrix"))
        #expect(view.checkIntegrity(key: wrongKey) == .invalid(.hmacSHA1))
    }

    @Test("RFC 8489 B.1: USERHASH and MESSAGE-INTEGRITY-SHA256 with the SHA-256 key")
    func sha256Request() throws {
        let bytes = TestVectors.sha256Request
        #expect(bytes.readableBytes == 164)
        let key = try #require(
            try STUNKey.longTerm(
                username: TestVectors.longTermUsername, realm: "example.org", password: TestVectors.longTermPassword,
                algorithm: .sha256))
        let view = try STUNMessageView(datagram: bytes)
        #expect(view.checkIntegrity(key: key) == .valid(.hmacSHA256))
        let message = try view.decode()
        let userhash = try STUNKey.userhash(username: TestVectors.longTermUsername, realm: "example.org")
        #expect(message.attribute(.userhash) == .userhash(userhash))
        #expect(message.attribute(.passwordAlgorithm) == .passwordAlgorithm(.sha256))
        #expect(message.nonce == "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
        #expect(message.encoded() == bytes)
        #expect(resigned(message).encoded(signing: STUNSigning(key: key, algorithms: [.hmacSHA256])) == bytes)
    }

    @Test("SASLprep maps the RFC 5769 password to TheMatrIX")
    func saslprep() throws {
        #expect(try SASLprep.prepare(TestVectors.longTermPassword) == "TheMatrIX")
        #expect(try SASLprep.prepare("user\u{00A0}name") == "user name")
        #expect(try SASLprep.prepare("I\u{00AD}X") == "IX")
        #expect(throws: SASLprepError.self) { try SASLprep.prepare("bad\u{0007}") }
        #expect(throws: SASLprepError.self) { try SASLprep.prepare("private\u{E000}") }
    }

    @Test("a long-term key for an unknown password algorithm is refused, not silently MD5")
    func unknownPasswordAlgorithm() throws {
        #expect(
            try STUNKey.longTerm(username: "u", realm: "r", password: "p", algorithm: PasswordAlgorithm(number: 3))
                == nil)
    }

    /// The message without its integrity and fingerprint attributes, to be signed again by the encoder.
    private func resigned(_ message: STUNMessage) -> STUNMessage {
        var copy = message
        copy.attributes.removeAll {
            [.messageIntegrity, .messageIntegritySHA256, .fingerprint].contains($0.type)
        }
        return copy
    }
}

@Suite("CRC-32")
struct CRC32Tests {
    @Test("the standard check value and every length from 0 to 64 against the bitwise definition")
    func checkValues() {
        #expect(Array("123456789".utf8).withUnsafeBytes(CRC32.checksum) == 0xCBF4_3926)
        var generator = SplitMix64(state: 42)
        for length in 0...64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(bytes.withUnsafeBytes(CRC32.checksum) == Self.bitwise(bytes), "length \(length)")
        }
    }

    static func bitwise(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
