import NIOCore

extension STUNAttribute {
    /// Writes the attribute (header, value, padding) at the buffer's writer index.
    public func encode(into buffer: inout ByteBuffer, transactionID: TransactionID, paddingByte: UInt8 = 0) {
        buffer.writeInteger(type.rawValue)
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        let valueStart = buffer.writerIndex
        encodeValue(into: &buffer, transactionID: transactionID)
        let length = buffer.writerIndex - valueStart
        buffer.setInteger(UInt16(truncatingIfNeeded: length), at: lengthIndex)
        let padding = paddedLength(length) - length
        if padding > 0 { buffer.writeRepeatingByte(paddingByte, count: padding) }
    }

    private func encodeValue(into buffer: inout ByteBuffer, transactionID: TransactionID) {
        switch self {
        case .mappedAddress(let address), .alternateServer(let address):
            buffer.writeAddress(address, xor: nil)
        case .xorMappedAddress(let address), .xorPeerAddress(let address), .xorRelayedAddress(let address):
            buffer.writeAddress(address, xor: transactionID)
        case .username(let text), .realm(let text), .nonce(let text), .software(let text),
            .alternateDomain(let text):
            buffer.writeString(text)
        case .userhash(let bytes), .messageIntegrity(let bytes), .messageIntegritySHA256(let bytes):
            buffer.writeBytes(bytes)
        case .fingerprint(let value):
            buffer.writeInteger(value)
        case .errorCode(let error):
            buffer.writeInteger(UInt16(0))
            buffer.writeErrorCode(error)
        case .addressErrorCode(let family, let error):
            buffer.writeInteger(family.rawValue)
            buffer.writeInteger(UInt8(0))
            buffer.writeErrorCode(error)
        case .unknownAttributes(let types):
            for type in types { buffer.writeInteger(type) }
        case .passwordAlgorithm(let algorithm):
            buffer.writePasswordAlgorithm(algorithm)
        case .passwordAlgorithms(let algorithms):
            for algorithm in algorithms { buffer.writePasswordAlgorithm(algorithm) }
        case .channelNumber(let number):
            buffer.writeInteger(number)
            buffer.writeInteger(UInt16(0))
        case .lifetime(let seconds):
            buffer.writeInteger(seconds)
        case .data(var data):
            buffer.writeBuffer(&data)
        case .requestedAddressFamily(let family), .additionalAddressFamily(let family):
            buffer.writeInteger(family.rawValue)
            buffer.writeRepeatingByte(0, count: 3)
        case .evenPort(let reserveNextPort):
            buffer.writeInteger(UInt8(reserveNextPort ? 0x80 : 0))
        case .requestedTransport(let proto):
            buffer.writeInteger(proto)
            buffer.writeRepeatingByte(0, count: 3)
        case .dontFragment, .useCandidate:
            break
        case .reservationToken(let token):
            buffer.writeInteger(token)
        case .icmp(let type, let code, let data):
            buffer.writeInteger(UInt16(0))
            buffer.writeInteger(type)
            buffer.writeInteger(code)
            buffer.writeInteger(data)
        case .connectionID(let id), .priority(let id):
            buffer.writeInteger(id)
        case .iceControlled(let tieBreaker), .iceControlling(let tieBreaker):
            buffer.writeInteger(tieBreaker)
        case .unknown(_, var value):
            buffer.writeBuffer(&value)
        }
    }
}

extension ByteBuffer {
    /// MAPPED-ADDRESS layout, XOR-ed with the cookie and transaction ID when `xor` is given (RFC 8489 §14.2).
    @inlinable
    public mutating func writeAddress(_ address: TransportAddress, xor transactionID: TransactionID?) {
        writeInteger(UInt8(0))
        writeInteger(address.ip.family.rawValue)
        let portMask: UInt16 = transactionID == nil ? 0 : UInt16(STUNConstants.magicCookie >> 16)
        writeInteger(address.port ^ portMask)
        switch address.ip {
        case .v4(let raw):
            writeInteger(raw ^ (transactionID == nil ? 0 : STUNConstants.magicCookie))
        case .v6(var high, var low):
            if let transactionID {
                high ^= UInt64(STUNConstants.magicCookie) << 32 | transactionID.high >> 32
                low ^= transactionID.high << 32 | UInt64(transactionID.low)
            }
            writeInteger(high)
            writeInteger(low)
        }
    }

    mutating func writeErrorCode(_ error: STUNErrorCode) {
        writeInteger(UInt8(error.code / 100 & 0x07))
        writeInteger(UInt8(error.code % 100))
        writeString(error.reason)
    }

    mutating func writePasswordAlgorithm(_ algorithm: PasswordAlgorithm) {
        writeInteger(algorithm.number)
        writeInteger(UInt16(algorithm.parameters.count))
        writeBytes(algorithm.parameters)
        writeRepeatingByte(0, count: paddedLength(algorithm.parameters.count) - algorithm.parameters.count)
    }
}
