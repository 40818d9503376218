import NIOCore
import Testing

@testable import STUN

@Suite("Malformed input yields a typed error, never a trap")
struct STUNDecodingErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let expected: STUNDecodingError.Code
        var testDescription: String { name }
    }

    static let header: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 0xAB, count: 12)

    /// A header with the given length field followed by `body`.
    static func message(length: Int, _ body: [UInt8]) -> [UInt8] {
        var bytes = header
        bytes[2] = UInt8(length >> 8)
        bytes[3] = UInt8(length & 0xFF)
        return bytes + body
    }

    static func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        let padding = (4 - value.count % 4) % 4
        return [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF)]
            + value + Array(repeating: 0, count: padding)
    }

    static func withBody(_ body: [UInt8]) -> [UInt8] { message(length: body.count, body) }

    static let integrity = attribute(0x0008, Array(repeating: 1, count: 20))
    static let software = attribute(0x8022, Array("x".utf8))

    static let cases: [Case] = [
        Case(name: "empty input", bytes: [], expected: .truncatedHeader),
        Case(name: "19-byte header", bytes: Array(header.prefix(19)), expected: .truncatedHeader),
        Case(name: "top bits set (ChannelData)", bytes: [0x40] + header.dropFirst(), expected: .notSTUN),
        Case(
            name: "RFC 3489 cookie", bytes: Array(header.prefix(4)) + [0, 0, 0, 0] + header.suffix(12),
            expected: .badMagicCookie),
        Case(name: "length not a multiple of 4", bytes: message(length: 5, [0, 0, 0, 1, 0]), expected: .badPadding),
        Case(name: "length past the datagram", bytes: message(length: 8, [0, 0, 0, 0]), expected: .lengthExceedsInput),
        Case(name: "trailing bytes", bytes: header + [0, 0, 0, 0], expected: .trailingBytes),
        Case(
            name: "attribute header cut", bytes: message(length: 4, [0x80, 0x22, 0x00, 0x08]),
            expected: .attributeOverrun),
        Case(
            name: "attribute length overruns", bytes: withBody([0x80, 0x22, 0x00, 0x09, 1, 2, 3, 4, 5, 6, 7, 8]),
            expected: .attributeOverrun),
        Case(
            name: "attribute after MESSAGE-INTEGRITY", bytes: withBody(integrity + software),
            expected: .attributeAfterMessageIntegrity),
        Case(
            name: "attribute after MESSAGE-INTEGRITY-SHA256",
            bytes: withBody(attribute(0x001C, Array(repeating: 2, count: 32)) + software),
            expected: .attributeAfterMessageIntegrity),
        Case(
            name: "MESSAGE-INTEGRITY after MESSAGE-INTEGRITY-SHA256",
            bytes: withBody(attribute(0x001C, Array(repeating: 2, count: 32)) + integrity),
            expected: .attributeAfterMessageIntegrity),
        Case(
            name: "attribute after FINGERPRINT", bytes: withBody(attribute(0x8028, [0, 0, 0, 0]) + software),
            expected: .attributeAfterFingerprint),
        Case(
            name: "bad FINGERPRINT", bytes: withBody(attribute(0x8028, [0xDE, 0xAD, 0xBE, 0xEF])),
            expected: .badFingerprint),
        Case(
            name: "short MESSAGE-INTEGRITY", bytes: withBody(attribute(0x0008, Array(repeating: 1, count: 16))),
            expected: .invalidAttributeValue),
        Case(
            name: "MESSAGE-INTEGRITY-SHA256 of 12 bytes",
            bytes: withBody(attribute(0x001C, Array(repeating: 1, count: 12))), expected: .invalidAttributeValue),
        Case(
            name: "FINGERPRINT of 8 bytes", bytes: withBody(attribute(0x8028, Array(repeating: 1, count: 8))),
            expected: .invalidAttributeValue),
        Case(
            name: "XOR-MAPPED-ADDRESS family 3", bytes: withBody(attribute(0x0020, [0, 3, 0, 1, 1, 2, 3, 4])),
            expected: .invalidAttributeValue),
        Case(
            name: "IPv4 XOR-MAPPED-ADDRESS of 12 bytes",
            bytes: withBody(attribute(0x0020, [0, 1, 0, 1] + Array(repeating: 0, count: 8))),
            expected: .invalidAttributeValue),
        Case(
            name: "IPv6 MAPPED-ADDRESS cut", bytes: withBody(attribute(0x0001, [0, 2, 0, 1, 1, 2, 3, 4])),
            expected: .invalidAttributeValue),
        Case(name: "USERNAME not UTF-8", bytes: withBody(attribute(0x0006, [0xC3, 0x28])), expected: .invalidText),
        Case(
            name: "USERNAME of 600 bytes", bytes: withBody(attribute(0x0006, Array(repeating: 0x61, count: 600))),
            expected: .invalidText),
        Case(
            name: "REALM of 800 bytes", bytes: withBody(attribute(0x0014, Array(repeating: 0x61, count: 800))),
            expected: .invalidText),
        Case(
            name: "ERROR-CODE class 7", bytes: withBody(attribute(0x0009, [0, 0, 7, 0])),
            expected: .invalidAttributeValue),
        Case(
            name: "ERROR-CODE number 100", bytes: withBody(attribute(0x0009, [0, 0, 4, 100])),
            expected: .invalidAttributeValue),
        Case(
            name: "ERROR-CODE too short", bytes: withBody(attribute(0x0009, [0, 4])), expected: .invalidAttributeValue),
        Case(
            name: "UNKNOWN-ATTRIBUTES odd length", bytes: withBody(attribute(0x000A, [0, 1, 0])),
            expected: .invalidAttributeValue),
        Case(
            name: "LIFETIME of 2 bytes", bytes: withBody(attribute(0x000D, [0, 1])), expected: .invalidAttributeValue),
        Case(
            name: "CHANNEL-NUMBER of 2 bytes", bytes: withBody(attribute(0x000C, [0x40, 0])),
            expected: .invalidAttributeValue),
        Case(
            name: "REQUESTED-TRANSPORT of 1 byte", bytes: withBody(attribute(0x0019, [17])),
            expected: .invalidAttributeValue),
        Case(
            name: "REQUESTED-ADDRESS-FAMILY 9", bytes: withBody(attribute(0x0017, [9, 0, 0, 0])),
            expected: .invalidAttributeValue),
        Case(
            name: "DONT-FRAGMENT with a value", bytes: withBody(attribute(0x001A, [1, 2, 3, 4])),
            expected: .invalidAttributeValue),
        Case(
            name: "EVEN-PORT of 4 bytes", bytes: withBody(attribute(0x0018, [0x80, 0, 0, 0])),
            expected: .invalidAttributeValue),
        Case(
            name: "RESERVATION-TOKEN of 4 bytes", bytes: withBody(attribute(0x0022, [1, 2, 3, 4])),
            expected: .invalidAttributeValue),
        Case(
            name: "USERHASH of 16 bytes", bytes: withBody(attribute(0x001E, Array(repeating: 0, count: 16))),
            expected: .invalidAttributeValue),
        Case(
            name: "PASSWORD-ALGORITHMS parameter overrun", bytes: withBody(attribute(0x8002, [0, 1, 0, 8, 1, 2])),
            expected: .invalidAttributeValue),
        Case(
            name: "PASSWORD-ALGORITHM trailing bytes", bytes: withBody(attribute(0x001D, [0, 1, 0, 0, 9, 9, 9, 9])),
            expected: .invalidAttributeValue),
        Case(
            name: "ICMP of 4 bytes", bytes: withBody(attribute(0x8004, [0, 0, 3, 1])), expected: .invalidAttributeValue),
    ]

    @Test(arguments: cases)
    func rejects(_ testCase: Case) {
        do {
            _ = try STUNMessage(datagram: ByteBuffer(bytes: testCase.bytes))
            Issue.record("\(testCase.name) decoded")
        } catch {
            #expect(error.code == testCase.expected, "\(testCase.name): \(error)")
        }
    }

    @Test("padding bytes are ignored, whatever their value")
    func paddingIgnored() throws {
        var bytes = Self.withBody(Self.attribute(0x8022, Array("abc".utf8)))
        bytes[bytes.count - 1] = 0xFF
        #expect(try STUNMessage(datagram: ByteBuffer(bytes: bytes)).software == "abc")
    }

    @Test("unknown comprehension-required attributes are reported; optional ones are not")
    func unknownAttributes() throws {
        let bytes = Self.withBody(
            Self.attribute(0x7777, [1]) + Self.attribute(0xC001, [2]) + Self.attribute(0x7777, [3]))
        let view = try STUNMessageView(datagram: ByteBuffer(bytes: bytes))
        #expect(view.hasUnknownComprehensionRequiredAttributes)
        #expect(view.unknownComprehensionRequiredAttributes() == [0x7777])
        let message = try view.decode()
        #expect(message.attributes.count == 3)
        #expect(
            message.attributes[1] == .unknown(type: STUNAttributeType(rawValue: 0xC001), value: ByteBuffer(bytes: [2])))
        let optionalOnly = try STUNMessageView(datagram: ByteBuffer(bytes: Self.withBody(Self.attribute(0xC001, [2]))))
        #expect(!optionalOnly.hasUnknownComprehensionRequiredAttributes)
    }

    @Test("stream framing reports the message length or asks for more bytes")
    func framing() throws {
        #expect(try STUNMessageView.messageLength(of: ByteBuffer(bytes: Self.header.prefix(10))) == nil)
        #expect(try STUNMessageView.messageLength(of: TestVectors.sampleRequest) == 108)
        #expect(throws: STUNDecodingError.self) {
            try STUNMessageView.messageLength(of: ByteBuffer(bytes: [0x40] + Self.header.dropFirst()))
        }
    }
}
