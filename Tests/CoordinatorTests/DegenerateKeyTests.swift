import Coordinator
import Crypto
import Foundation
import Testing

@Suite("Degenerate account keys are refused")
struct DegenerateKeyTests {
    static func hex(_ text: String) -> Data {
        Data(
            stride(from: 0, to: text.count, by: 2).map { offset in
                let start = text.index(text.startIndex, offsetBy: offset)
                return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
            })
    }

    static let order8 = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"
    static let order8Negated = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"

    @Test(
        "Ed25519: every small-order point (the identity's signature verifies for anyone) with either sign bit, and non-canonical encodings",
        arguments: [
            String(repeating: "0", count: 64), "01" + String(repeating: "0", count: 62), order8, order8Negated,
            "ec" + String(repeating: "f", count: 60) + "7f",
            // The same points with the sign bit set.
            String(repeating: "0", count: 62) + "80", "01" + String(repeating: "0", count: 60) + "80",
            String(order8.dropLast(2)) + "85", String(order8Negated.dropLast(2)) + "fa",
            "ec" + String(repeating: "f", count: 62),
            // y = p and y = p + 1 (non-canonical 0 and 1), and y = 2^255 − 1.
            "ed" + String(repeating: "f", count: 60) + "7f", "ee" + String(repeating: "f", count: 60) + "7f",
            String(repeating: "f", count: 62) + "7f",
        ])
    func smallOrderEd25519(key: String) {
        #expect(throws: AccountKeyError.invalidKey) {
            try AccountKey(algorithm: .ed25519, publicKey: Self.hex(key))
        }
    }

    @Test("real keys of both algorithms still parse")
    func realKeys() throws {
        for _ in 0..<200 {
            let ed = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation
            #expect(try AccountKey(algorithm: .ed25519, publicKey: ed).publicKey == ed)
        }
        let p256 = P256.Signing.PrivateKey().publicKey
        #expect(
            try AccountKey(algorithm: .p256, publicKey: p256.x963Representation).publicKey == p256.x963Representation)
    }

    @Test("P-256: the point at infinity and points off the curve are refused")
    func p256Points() throws {
        let valid = P256.Signing.PrivateKey().publicKey.x963Representation
        var offCurve = valid
        offCurve[64] ^= 0x01
        var compressedOff = Data([0x02]) + Data(repeating: 0xFF, count: 32)
        compressedOff[1] = 0xFF
        for key in [Data([0x00]), Data([0x04]) + Data(repeating: 0, count: 64), offCurve, compressedOff] {
            #expect(throws: AccountKeyError.invalidKey) { try AccountKey(algorithm: .p256, publicKey: key) }
        }
    }
}
