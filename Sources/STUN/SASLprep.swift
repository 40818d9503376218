import Foundation

/// Why a string cannot be used as a STUN credential.
public struct SASLprepError: Error, Hashable, Sendable {
    /// The first prohibited code point found (RFC 4013 §2.3).
    public var prohibited: Unicode.Scalar
}

/// SASLprep (RFC 4013), the stringprep profile RFC 5389 and the RFC 5769 vectors apply to credentials.
///
/// Steps: map non-ASCII spaces to U+0020 and "commonly mapped to nothing" characters (RFC 3454 B.1) to
/// nothing, normalise with Unicode NFKC, then refuse the prohibited characters of RFC 3454 C.1.2–C.9.
/// Not applied: the bidirectional check (RFC 4013 §2.4; Swift exposes no Bidi_Class property) and the
/// unassigned-code-point check for stored strings (§2.5).
public enum SASLprep {
    public static func prepare(_ input: String) throws(SASLprepError) -> String {
        if input.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return input }
        var mapped = String.UnicodeScalarView()
        for scalar in input.unicodeScalars {
            if isMappedToNothing(scalar) { continue }
            mapped.append(isNonASCIISpace(scalar) ? " " : scalar)
        }
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        for scalar in normalized.unicodeScalars where isProhibited(scalar) {
            throw SASLprepError(prohibited: scalar)
        }
        return normalized
    }

    /// RFC 3454 table C.1.2.
    static func isNonASCIISpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// RFC 3454 table B.1.
    static func isMappedToNothing(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF: true
        default: false
        }
    }

    /// RFC 4013 §2.3: RFC 3454 tables C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8 and C.9.
    static func isProhibited(_ scalar: Unicode.Scalar) -> Bool {
        if isNonASCIISpace(scalar) { return true }
        switch scalar.value {
        case 0x0000...0x001F, 0x007F: return true  // C.2.1
        case 0x0080...0x009F, 0x06DD, 0x070F, 0x180E, 0x200C, 0x200D, 0x2028, 0x2029, 0x2060...0x2063,
            0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC, 0x1D173...0x1D17A:
            return true  // C.2.2
        case 0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x100000...0x10FFFD: return true  // C.3
        case 0xFDD0...0xFDEF: return true  // C.4
        case 0xFFF9...0xFFFD: return true  // C.6
        case 0x2FF0...0x2FFB: return true  // C.7
        case 0x0340, 0x0341, 0x200E, 0x200F, 0x202A...0x202E: return true  // C.8
        case 0xE0001, 0xE0020...0xE007F: return true  // C.9
        default: return scalar.value & 0xFFFE == 0xFFFE  // C.4: U+xxFFFE and U+xxFFFF
        }
    }
}
