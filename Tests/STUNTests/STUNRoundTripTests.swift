import NIOCore
import TestRandom
import Testing

@testable import STUN

enum SampleMessages {
    static let v4 = TransportAddress(ip: .v4(0xC000_0201), port: 3478)
    static let v6 = TransportAddress(ip: .v6(high: 0x2001_0DB8_0000_0000, low: 0x0000_0000_0000_0001), port: 49152)

    /// One of every typed attribute.
    static let everyAttribute: [STUNAttribute] = [
        .mappedAddress(v4), .xorMappedAddress(v6), .username("alice"), .userhash(Array(repeating: 7, count: 32)),
        .errorCode(.staleNonce), .realm("partyline"), .nonce("obMatJos2AAAB-nonce"),
        .passwordAlgorithm(.sha256),
        .passwordAlgorithms([.md5, .sha256, PasswordAlgorithm(number: 9, parameters: [1, 2, 3])]),
        .unknownAttributes([0x7777, 0x7778, 0x7779]), .software("PartyLine"), .alternateServer(v6),
        .alternateDomain("turn.example.org"), .channelNumber(0x4001), .lifetime(600), .xorPeerAddress(v4),
        .data(ByteBuffer(bytes: [1, 2, 3, 4, 5])), .xorRelayedAddress(v6), .requestedAddressFamily(.ipv6),
        .additionalAddressFamily(.ipv6), .addressErrorCode(family: .ipv6, error: .addressFamilyNotSupported),
        .evenPort(reserveNextPort: true), .requestedTransport(17), .dontFragment,
        .reservationToken(0x0102_0304_0506_0708),
        .icmp(type: 3, code: 1, data: 42), .connectionID(99), .priority(0x6E00_01FF), .useCandidate,
        .iceControlled(tieBreaker: 1), .iceControlling(tieBreaker: 2),
        .unknown(type: STUNAttributeType(rawValue: 0xC0DE), value: ByteBuffer(bytes: [9, 9, 9])),
    ]

    static var seeds: [ByteBuffer] {
        let key = STUNKey(bytes: Array("secret".utf8))
        let full = STUNMessage(
            type: STUNMessageType(method: .allocate, messageClass: .request), attributes: everyAttribute)
        return [
            TestVectors.sampleRequest, TestVectors.ipv4Response, TestVectors.ipv6Response,
            TestVectors.longTermRequest, TestVectors.sha256Request,
            full.encoded(signing: STUNSigning(key: key, algorithms: [.hmacSHA1, .hmacSHA256]), fingerprint: true),
            STUNMessage(type: .bindingRequest).encoded(fingerprint: true),
        ]
    }
}

@Suite("Encoding and decoding round trips")
struct STUNRoundTripTests {
    @Test("every typed attribute survives encode → decode, with both integrity attributes and FINGERPRINT")
    func everyAttribute() throws {
        let key = STUNKey(bytes: Array("secret".utf8))
        for messageClass in [STUNMessageClass.request, .indication, .successResponse, .errorResponse] {
            let message = STUNMessage(
                type: STUNMessageType(method: .connectionAttempt, messageClass: messageClass),
                attributes: SampleMessages.everyAttribute)
            let encoded = message.encoded(
                signing: STUNSigning(key: key, algorithms: [.hmacSHA1, .hmacSHA256]), fingerprint: true)
            let view = try STUNMessageView(datagram: encoded)
            #expect(view.checkIntegrity(key: key) == .valid(.hmacSHA256))
            #expect(view.checkIntegrity(key: STUNKey(bytes: [1])) == .invalid(.hmacSHA256))
            let decoded = try view.decode()
            #expect(decoded.type == message.type)
            #expect(Array(decoded.attributes.prefix(message.attributes.count)) == message.attributes)
            #expect(
                decoded.attributes.map(\.type).suffix(3) == [.messageIntegrity, .messageIntegritySHA256, .fingerprint])
        }
    }

    @Test("message type encoding matches RFC 8489 §5 for every method and class")
    func messageTypes() {
        #expect(STUNMessageType.bindingRequest.rawValue == 0x0001)
        #expect(STUNMessageType.bindingSuccess.rawValue == 0x0101)
        #expect(STUNMessageType.bindingError.rawValue == 0x0111)
        #expect(STUNMessageType(method: .send, messageClass: .indication).rawValue == 0x0016)
        #expect(STUNMessageType(method: .data, messageClass: .indication).rawValue == 0x0017)
        for raw in UInt16(0)...0x3FFF {
            #expect(STUNMessageType(rawValue: raw).rawValue == raw)
        }
    }

    /// RFC 8489 asks for robustness against any input: a bounded, seeded run of mutated and random inputs.
    /// Each decoded input must also re-encode and decode to the same attributes.
    @Test("1,000,000 mutated and random inputs decode or fail with a typed error")
    func randomisedInputs() throws {
        var generator = SplitMix64(state: 0x5EED_2026)
        let seeds = SampleMessages.seeds.map { Array($0.readableBytesView) }
        let deadline = ContinuousClock.now + .seconds(240)
        let target = 1_000_000
        var decoded = 0
        var rejected = 0
        var iterations = 0
        while iterations < target, ContinuousClock.now < deadline || iterations % 1000 != 0 {
            iterations += 1
            let input = Self.mutate(seeds, iteration: iterations, using: &generator)
            do {
                let message = try STUNMessage(datagram: ByteBuffer(bytes: input))
                decoded += 1
                var plain = message
                plain.attributes.removeAll { $0.type == .fingerprint }
                let again = try STUNMessage(datagram: plain.encoded())
                #expect(again.attributes == plain.attributes)
            } catch {
                rejected += 1
            }
        }
        #expect(iterations == target, "ran \(iterations) inputs before the time bound")
        #expect(decoded > 1000 && rejected > 1000, "decoded \(decoded), rejected \(rejected)")
    }

    static func mutate(_ seeds: [[UInt8]], iteration: Int, using generator: inout SplitMix64) -> [UInt8] {
        if iteration % 16 == 0 {
            let count = Int.random(in: 0...96, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if count >= 20, Bool.random(using: &generator) {
                bytes.replaceSubrange(0..<8, with: [0, 1, 0, UInt8((count - 20) & 0xFC), 0x21, 0x12, 0xA4, 0x42])
            }
            return bytes
        }
        var bytes = seeds[Int.random(in: 0..<seeds.count, using: &generator)]
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1:
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 2:
                bytes.removeLast(Int.random(in: 0..<min(bytes.count, 24), using: &generator))
            case 3:
                bytes += (0..<Int.random(in: 1...12, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            case 4 where bytes.count > 24:
                // An attribute length field: point at 4-byte boundaries past the header.
                let index = 20 + 4 * Int.random(in: 0..<((bytes.count - 20) / 4), using: &generator) + 2
                if index + 1 < bytes.count {
                    bytes[index] = UInt8.random(in: 0...2, using: &generator)
                    bytes[index + 1] = UInt8.random(in: 0...255, using: &generator)
                }
            default:
                if bytes.count >= 4 {
                    let length = max(0, bytes.count - 20) & ~3
                    bytes[2] = UInt8(length >> 8)
                    bytes[3] = UInt8(length & 0xFF)
                }
            }
            if bytes.isEmpty { break }
        }
        return bytes
    }
}
