import NIOCore

/// A Binding request from an RFC 3489 ("classic STUN") client: no magic cookie, a 128-bit transaction ID.
///
/// RFC 8489 §12 asks servers to answer such clients with MAPPED-ADDRESS. PartyLine does, and refuses the
/// RFC 3489 requests it cannot honour: CHANGE-REQUEST with a flag set (no RFC 5780 second address) and
/// RESPONSE-ADDRESS (answering a third party would reflect traffic).
public struct ClassicBindingRequest: Hashable, Sendable {
    /// Bytes 4–19 of the header: the whole 128-bit transaction ID.
    public var transactionIDHigh: UInt64
    public var transactionIDLow: UInt64
    /// Comprehension-required attributes the server must refuse with 420.
    public var refusedAttributes: [UInt16]

    /// CHANGE-REQUEST (RFC 3489 §11.2.4, RFC 5780 §7.2).
    public static let changeRequest: UInt16 = 0x0003
    /// RESPONSE-ADDRESS (RFC 3489 §11.2.2).
    public static let responseAddress: UInt16 = 0x0002

    /// Parses a datagram that ``STUNMessageView`` refused with ``STUNDecodingError/Code/badMagicCookie``.
    public init(datagram: ByteBuffer) throws(STUNDecodingError) {
        let bytes = datagram.readableBytesView
        guard bytes.count >= STUNConstants.headerSize else { throw STUNDecodingError(.truncatedHeader) }
        guard datagram.getInteger(at: datagram.readerIndex, as: UInt16.self) == STUNMessageType.bindingRequest.rawValue
        else { throw STUNDecodingError(.notSTUN) }
        let length = Int(datagram.getInteger(at: datagram.readerIndex + 2, as: UInt16.self)!)
        guard length & 3 == 0 else { throw STUNDecodingError(.badPadding) }
        guard bytes.count == STUNConstants.headerSize + length else {
            throw STUNDecodingError(
                bytes.count < STUNConstants.headerSize + length ? .lengthExceedsInput : .trailingBytes)
        }
        transactionIDHigh = datagram.getInteger(at: datagram.readerIndex + 4, as: UInt64.self)!
        transactionIDLow = datagram.getInteger(at: datagram.readerIndex + 12, as: UInt64.self)!
        var refused: [UInt16] = []
        var offset = datagram.readerIndex + STUNConstants.headerSize
        let end = datagram.readerIndex + bytes.count
        while offset < end {
            guard end - offset >= 4 else { throw STUNDecodingError(.attributeOverrun) }
            let type = datagram.getInteger(at: offset, as: UInt16.self)!
            let valueLength = Int(datagram.getInteger(at: offset + 2, as: UInt16.self)!)
            guard valueLength <= end - offset - 4 else {
                throw STUNDecodingError(.attributeOverrun, attribute: STUNAttributeType(rawValue: type))
            }
            if type == Self.changeRequest {
                guard valueLength == 4 else {
                    throw STUNDecodingError(.invalidAttributeValue, attribute: STUNAttributeType(rawValue: type))
                }
                if datagram.getInteger(at: offset + 4, as: UInt32.self)! & 0x6 != 0 { refused.append(type) }
            } else if type == Self.responseAddress {
                refused.append(type)
            }
            offset += 4 + paddedLength(valueLength)
        }
        refusedAttributes = refused
    }

    /// Writes the RFC 3489 Binding success response: MAPPED-ADDRESS and SERVER (SOFTWARE's code point).
    public func writeSuccess(mappedAddress: TransportAddress, software: [UInt8], into buffer: inout ByteBuffer) {
        let start = writeHeader(type: STUNMessageType.bindingSuccess.rawValue, into: &buffer)
        STUNAttribute.mappedAddress(mappedAddress).encode(into: &buffer, transactionID: TransactionID(high: 0, low: 0))
        buffer.writeBytes(software)
        buffer.setInteger(UInt16(buffer.writerIndex - start - STUNConstants.headerSize), at: start + 2)
    }

    /// Writes a 420 Binding error response naming ``refusedAttributes``. RFC 3489 attributes carry no
    /// padding, so the reason phrase is a multiple of four bytes (§11.2.9) and an odd list of types repeats
    /// its last one (§11.2.10).
    public func writeUnknownAttributes(software: [UInt8], into buffer: inout ByteBuffer) {
        let start = writeHeader(type: STUNMessageType.bindingError.rawValue, into: &buffer)
        let noID = TransactionID(high: 0, low: 0)
        STUNAttribute.errorCode(STUNErrorCode(code: 420, reason: "Unknown Attribute   "))
            .encode(into: &buffer, transactionID: noID)
        var types = refusedAttributes
        if types.count % 2 == 1, let last = types.last { types.append(last) }
        STUNAttribute.unknownAttributes(types).encode(into: &buffer, transactionID: noID)
        buffer.writeBytes(software)
        buffer.setInteger(UInt16(buffer.writerIndex - start - STUNConstants.headerSize), at: start + 2)
    }

    private func writeHeader(type: UInt16, into buffer: inout ByteBuffer) -> Int {
        let start = buffer.writerIndex
        buffer.writeInteger(type)
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(transactionIDHigh)
        buffer.writeInteger(transactionIDLow)
        return start
    }
}
