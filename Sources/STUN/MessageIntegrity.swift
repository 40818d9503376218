import Crypto
import NIOCore

/// The HMAC key of a STUN credential: the password itself for short-term credentials, a digest of
/// username, realm and password for long-term ones (RFC 8489 §9.1.1, §9.2.2).
public struct STUNKey: Hashable, Sendable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Short-term credential key: the SASLprep-ed password (RFC 8489 §9.1.1).
    public static func shortTerm(password: String) throws(SASLprepError) -> STUNKey {
        STUNKey(bytes: Array(try SASLprep.prepare(password).utf8))
    }

    /// Long-term credential key (RFC 8489 §9.2.2): MD5 or SHA-256 of `username:realm:password`, with realm and
    /// password SASLprep-ed, which gives the keys of the RFC 5769 and RFC 8489 B.1 vectors. Nil for an
    /// algorithm number other than MD5 (1) and SHA-256 (2).
    public static func longTerm(
        username: String, realm: String, password: String, algorithm: PasswordAlgorithm = .md5
    ) throws(SASLprepError) -> STUNKey? {
        let input = Array("\(username):\(try SASLprep.prepare(realm)):\(try SASLprep.prepare(password))".utf8)
        switch algorithm.number {
        case PasswordAlgorithm.md5.number: return STUNKey(bytes: Array(Insecure.MD5.hash(data: input)))
        case PasswordAlgorithm.sha256.number: return STUNKey(bytes: Array(SHA256.hash(data: input)))
        default: return nil
        }
    }

    /// USERHASH (RFC 8489 §14.4): SHA-256 of `username:realm`, both prepared.
    public static func userhash(username: String, realm: String) throws(SASLprepError) -> [UInt8] {
        Array(SHA256.hash(data: Array("\(try SASLprep.prepare(username)):\(try SASLprep.prepare(realm))".utf8)))
    }
}

/// The two message-integrity mechanisms of RFC 8489.
public enum STUNIntegrityAlgorithm: Hashable, Sendable {
    /// MESSAGE-INTEGRITY: HMAC-SHA1, 20 bytes (§14.5).
    case hmacSHA1
    /// MESSAGE-INTEGRITY-SHA256: HMAC-SHA256, 32 bytes when PartyLine sends it (§14.6).
    case hmacSHA256

    var size: Int { self == .hmacSHA1 ? 20 : 32 }

    var attributeType: STUNAttributeType { self == .hmacSHA1 ? .messageIntegrity : .messageIntegritySHA256 }

    func authenticationCode(for parts: [UnsafeRawBufferPointer], key: STUNKey) -> [UInt8] {
        let symmetricKey = SymmetricKey(data: key.bytes)
        switch self {
        case .hmacSHA1:
            var hmac = HMAC<Insecure.SHA1>(key: symmetricKey)
            for part in parts { hmac.update(data: part) }
            return Array(hmac.finalize())
        case .hmacSHA256:
            var hmac = HMAC<SHA256>(key: symmetricKey)
            for part in parts { hmac.update(data: part) }
            return Array(hmac.finalize())
        }
    }
}

/// The outcome of checking a received message's integrity against a key.
public enum STUNIntegrityCheck: Hashable, Sendable {
    /// The message carries neither integrity attribute.
    case absent
    /// The strongest attribute present matched; the algorithm says which was checked.
    case valid(STUNIntegrityAlgorithm)
    /// The strongest attribute present did not match.
    case invalid(STUNIntegrityAlgorithm)
}

extension STUNMessageView {
    /// Checks MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY (RFC 8489 §14.5, §14.6), in
    /// constant time. The header length is taken as ending at the checked attribute.
    public func checkIntegrity(key: STUNKey) -> STUNIntegrityCheck {
        let algorithm: STUNIntegrityAlgorithm
        let offset: Int
        if let sha256 = messageIntegritySHA256Offset {
            (algorithm, offset) = (.hmacSHA256, sha256)
        } else if let sha1 = messageIntegrityOffset {
            (algorithm, offset) = (.hmacSHA1, sha1)
        } else {
            return .absent
        }
        let received = integrityValue(at: offset)!
        let adjustedLength = UInt16(offset - STUNConstants.headerSize + 4 + received.readableBytes)
        let lengthBytes = [UInt8(adjustedLength >> 8), UInt8(adjustedLength & 0xFF)]
        let expected = bytes.withUnsafeReadableBytes { raw in
            lengthBytes.withUnsafeBytes { length in
                algorithm.authenticationCode(
                    for: [
                        UnsafeRawBufferPointer(rebasing: raw[0..<2]), length,
                        UnsafeRawBufferPointer(rebasing: raw[4..<offset]),
                    ], key: key)
            }
        }
        let matches =
            received.readableBytesView.withContiguousStorageIfAvailable { receivedBytes in
                constantTimeEquals(Array(receivedBytes), Array(expected.prefix(receivedBytes.count)))
            } ?? false
        return matches ? .valid(algorithm) : .invalid(algorithm)
    }
}

/// Compares two byte arrays without an early exit, so timing does not reveal the matching prefix.
func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}
