/// Fixed values and size limits of the STUN wire format.
public enum STUNConstants {
    /// RFC 8489 §5.
    public static let magicCookie: UInt32 = 0x2112_A442
    /// RFC 8489 §5: type, length, cookie, transaction ID.
    public static let headerSize = 20
    /// RFC 8489 §14.7: the CRC-32 is XOR-ed with this so STUN's checksum differs from other protocols'.
    public static let fingerprintXOR: UInt32 = 0x5354_554E
    /// RFC 8489 §14.3, read leniently as RFC 5389 did (< 513 bytes).
    public static let maxUsernameBytes = 512
    /// RFC 8489 §14.9, §14.10, §14.14, §14.8: fewer than 128 characters, up to 763 bytes when decoding.
    public static let maxTextBytes = 763
    /// RFC 8489 §14.4: the USERHASH value is a SHA-256 digest.
    public static let userhashSize = 32
    /// RFC 8489 §14.5.
    public static let messageIntegritySize = 20
}

@inline(__always)
func paddedLength(_ length: Int) -> Int { (length + 3) & ~3 }
