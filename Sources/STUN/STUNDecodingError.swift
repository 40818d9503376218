/// Why a byte sequence is not a valid STUN message. Decoding never traps; it throws one of these.
///
/// An extensible struct rather than an enum, so new codes do not break callers; tests match on ``code``.
public struct STUNDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Fewer than the 20 header bytes (RFC 8489 §5).
        public static let truncatedHeader = Code("truncatedHeader")
        /// The two most significant bits are not zero: not STUN (RFC 8489 §5).
        public static let notSTUN = Code("notSTUN")
        /// The magic cookie is not 0x2112A442 (RFC 8489 §5); RFC 3489 messages are not accepted.
        public static let badMagicCookie = Code("badMagicCookie")
        /// The message length is not a multiple of four: the last attribute is not padded (RFC 8489 §14).
        public static let badPadding = Code("badPadding")
        /// The message length field promises more bytes than the input holds.
        public static let lengthExceedsInput = Code("lengthExceedsInput")
        /// Bytes follow the message in a datagram.
        public static let trailingBytes = Code("trailingBytes")
        /// An attribute header or value runs past the end of the message.
        public static let attributeOverrun = Code("attributeOverrun")
        /// An attribute other than MESSAGE-INTEGRITY-SHA256 or FINGERPRINT follows MESSAGE-INTEGRITY,
        /// or anything but FINGERPRINT follows MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.5, §14.6).
        public static let attributeAfterMessageIntegrity = Code("attributeAfterMessageIntegrity")
        /// FINGERPRINT is not the last attribute (RFC 8489 §14.7).
        public static let attributeAfterFingerprint = Code("attributeAfterFingerprint")
        /// The FINGERPRINT value does not match the message's CRC-32 (RFC 8489 §14.7).
        public static let badFingerprint = Code("badFingerprint")
        /// A known attribute's value has the wrong length or an invalid field.
        public static let invalidAttributeValue = Code("invalidAttributeValue")
        /// A text attribute is not valid UTF-8 or is longer than the RFC allows.
        public static let invalidText = Code("invalidText")

        public var description: String { name }
    }

    public var code: Code
    /// The attribute concerned, where there is one.
    public var attribute: STUNAttributeType?

    public init(_ code: Code, attribute: STUNAttributeType? = nil) {
        self.code = code
        self.attribute = attribute
    }

    public var description: String {
        attribute.map { "STUN decoding error: \(code) (attribute \($0))" } ?? "STUN decoding error: \(code)"
    }
}
