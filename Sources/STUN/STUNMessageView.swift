import NIOCore

/// A validated STUN message that has not been decoded into values: it allocates nothing beyond the buffer it
/// holds, so the server's hot path can answer from it directly.
///
/// Building one checks the whole structure: header, cookie, lengths, every attribute's bounds, the order of
/// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and the FINGERPRINT value.
public struct STUNMessageView: Sendable {
    /// Exactly the message's bytes, header included, with reader index 0.
    public let bytes: ByteBuffer
    public let type: STUNMessageType
    public let transactionID: TransactionID
    /// Offset of the MESSAGE-INTEGRITY attribute header within ``bytes``.
    public let messageIntegrityOffset: Int?
    /// Offset of the MESSAGE-INTEGRITY-SHA256 attribute header within ``bytes``.
    public let messageIntegritySHA256Offset: Int?
    /// Offset of the FINGERPRINT attribute header within ``bytes``.
    public let fingerprintOffset: Int?
    /// Whether a comprehension-required attribute that the codec does not know is present (RFC 8489 §6.3.1).
    public let hasUnknownComprehensionRequiredAttributes: Bool

    /// Validates a datagram that must hold exactly one message.
    public init(datagram: ByteBuffer) throws(STUNDecodingError) {
        guard let length = try Self.messageLength(of: datagram) else {
            throw STUNDecodingError(.truncatedHeader)
        }
        guard datagram.readableBytes >= length else { throw STUNDecodingError(.lengthExceedsInput) }
        guard datagram.readableBytes == length else { throw STUNDecodingError(.trailingBytes) }
        try self.init(message: datagram.getSlice(at: datagram.readerIndex, length: length)!)
    }

    /// The total size (header included) of the message at the start of `buffer`, or nil when fewer than
    /// 20 bytes are there yet. Stream transports use it to frame messages.
    public static func messageLength(of buffer: ByteBuffer) throws(STUNDecodingError) -> Int? {
        guard buffer.readableBytes >= STUNConstants.headerSize else { return nil }
        let start = buffer.readerIndex
        let rawType = buffer.getInteger(at: start, as: UInt16.self)!
        guard rawType & 0xC000 == 0 else { throw STUNDecodingError(.notSTUN) }
        let length = Int(buffer.getInteger(at: start + 2, as: UInt16.self)!)
        guard buffer.getInteger(at: start + 4, as: UInt32.self)! == STUNConstants.magicCookie else {
            throw STUNDecodingError(.badMagicCookie)
        }
        guard length & 3 == 0 else { throw STUNDecodingError(.badPadding) }
        return STUNConstants.headerSize + length
    }

    private init(message bytes: ByteBuffer) throws(STUNDecodingError) {
        self.bytes = bytes
        type = STUNMessageType(rawValue: bytes.getInteger(at: 0, as: UInt16.self)!)
        transactionID = TransactionID(
            high: bytes.getInteger(at: 8, as: UInt64.self)!,
            low: bytes.getInteger(at: 16, as: UInt32.self)!
        )
        var integrity: Int?
        var integritySHA256: Int?
        var fingerprint: Int?
        var unknownRequired = false
        let end = bytes.readableBytes
        var offset = STUNConstants.headerSize
        while offset < end {
            guard end - offset >= 4 else { throw STUNDecodingError(.attributeOverrun) }
            let type = STUNAttributeType(rawValue: bytes.getInteger(at: offset, as: UInt16.self)!)
            let length = Int(bytes.getInteger(at: offset + 2, as: UInt16.self)!)
            guard length <= end - offset - 4 else { throw STUNDecodingError(.attributeOverrun, attribute: type) }
            if fingerprint != nil { throw STUNDecodingError(.attributeAfterFingerprint, attribute: type) }
            if integritySHA256 != nil, type != .fingerprint {
                throw STUNDecodingError(.attributeAfterMessageIntegrity, attribute: type)
            }
            if integrity != nil, type != .fingerprint, type != .messageIntegritySHA256 {
                throw STUNDecodingError(.attributeAfterMessageIntegrity, attribute: type)
            }
            switch type {
            case .messageIntegrity:
                guard length == STUNConstants.messageIntegritySize else {
                    throw STUNDecodingError(.invalidAttributeValue, attribute: type)
                }
                integrity = offset
            case .messageIntegritySHA256:
                guard (16...32).contains(length), length & 3 == 0 else {
                    throw STUNDecodingError(.invalidAttributeValue, attribute: type)
                }
                integritySHA256 = offset
            case .fingerprint:
                guard length == 4 else { throw STUNDecodingError(.invalidAttributeValue, attribute: type) }
                fingerprint = offset
            default:
                if type.isComprehensionRequired, !type.isKnown { unknownRequired = true }
            }
            offset += 4 + paddedLength(length)
        }
        if let fingerprint {
            let expected = bytes.getInteger(at: fingerprint + 4, as: UInt32.self)!
            let actual = bytes.withUnsafeReadableBytes { raw in
                CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<fingerprint]))
            }
            guard actual ^ STUNConstants.fingerprintXOR == expected else {
                throw STUNDecodingError(.badFingerprint, attribute: .fingerprint)
            }
        }
        messageIntegrityOffset = integrity
        messageIntegritySHA256Offset = integritySHA256
        fingerprintOffset = fingerprint
        hasUnknownComprehensionRequiredAttributes = unknownRequired
    }

    /// Calls `body` with each attribute's type and value (a slice of ``bytes``, padding excluded), in order,
    /// until it returns false.
    public func forEachAttribute<Failure: Error>(
        _ body: (STUNAttributeType, ByteBuffer) throws(Failure) -> Bool
    ) throws(Failure) {
        var offset = STUNConstants.headerSize
        while offset < bytes.readableBytes {
            let type = STUNAttributeType(rawValue: bytes.getInteger(at: offset, as: UInt16.self)!)
            let length = Int(bytes.getInteger(at: offset + 2, as: UInt16.self)!)
            guard try body(type, bytes.getSlice(at: offset + 4, length: length)!) else { return }
            offset += 4 + paddedLength(length)
        }
    }

    /// The value of the first attribute of `type`, if any.
    public func firstValue(of type: STUNAttributeType) -> ByteBuffer? {
        var found: ByteBuffer?
        forEachAttribute { candidate, value in
            if candidate == type { found = value }
            return found == nil
        }
        return found
    }

    /// At most this many types are listed in UNKNOWN-ATTRIBUTES, so a hostile message cannot make the
    /// answer (or the work to build it) grow with its size.
    public static let maxUnknownAttributesReported = 16

    /// The comprehension-required types the codec does not know, for a 420 response's UNKNOWN-ATTRIBUTES:
    /// distinct, in order of appearance, at most ``maxUnknownAttributesReported``.
    public func unknownComprehensionRequiredAttributes() -> [UInt16] {
        var types: [UInt16] = []
        forEachAttribute { type, _ in
            if type.isComprehensionRequired, !type.isKnown, !types.contains(type.rawValue) {
                types.append(type.rawValue)
            }
            return types.count < Self.maxUnknownAttributesReported
        }
        return types
    }

    /// Decodes every attribute into a typed ``STUNMessage``.
    public func decode() throws(STUNDecodingError) -> STUNMessage {
        var attributes: [STUNAttribute] = []
        let transactionID = self.transactionID
        try forEachAttribute { type, value throws(STUNDecodingError) in
            attributes.append(try STUNAttribute(type: type, value: value, transactionID: transactionID))
            return true
        }
        return STUNMessage(type: type, transactionID: transactionID, attributes: attributes)
    }
}

extension STUNMessageView {
    /// The raw bytes of a message-integrity attribute's value, if present.
    func integrityValue(at offset: Int?) -> ByteBuffer? {
        guard let offset else { return nil }
        let length = Int(bytes.getInteger(at: offset + 2, as: UInt16.self)!)
        return bytes.getSlice(at: offset + 4, length: length)
    }
}
