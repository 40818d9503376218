import NIOCore

extension STUNAttribute {
    /// Decodes one attribute's value. `value` excludes padding; `transactionID` unmasks the XOR addresses.
    public init(type: STUNAttributeType, value: ByteBuffer, transactionID: TransactionID) throws(STUNDecodingError) {
        var reader = AttributeReader(type: type, value: value)
        switch type {
        case .mappedAddress:
            self = .mappedAddress(try reader.address(xor: nil))
        case .alternateServer:
            self = .alternateServer(try reader.address(xor: nil))
        case .xorMappedAddress:
            self = .xorMappedAddress(try reader.address(xor: transactionID))
        case .xorPeerAddress:
            self = .xorPeerAddress(try reader.address(xor: transactionID))
        case .xorRelayedAddress:
            self = .xorRelayedAddress(try reader.address(xor: transactionID))
        case .username:
            self = .username(try reader.text(maxBytes: STUNConstants.maxUsernameBytes))
        case .realm:
            self = .realm(try reader.text(maxBytes: STUNConstants.maxTextBytes))
        case .nonce:
            self = .nonce(try reader.text(maxBytes: STUNConstants.maxTextBytes))
        case .software:
            self = .software(try reader.text(maxBytes: STUNConstants.maxTextBytes))
        case .alternateDomain:
            self = .alternateDomain(try reader.text(maxBytes: 255))
        case .userhash:
            self = .userhash(try reader.bytes(exactly: STUNConstants.userhashSize))
        case .messageIntegrity:
            self = .messageIntegrity(try reader.bytes(exactly: STUNConstants.messageIntegritySize))
        case .messageIntegritySHA256:
            guard (16...32).contains(value.readableBytes), value.readableBytes & 3 == 0 else { throw reader.invalid }
            self = .messageIntegritySHA256(try reader.bytes(exactly: value.readableBytes))
        case .fingerprint:
            self = .fingerprint(try reader.exactly(4) { $0.readInteger(as: UInt32.self) })
        case .errorCode:
            self = .errorCode(try reader.errorCode())
        case .addressErrorCode:
            let family = try reader.family()
            reader.skip(1)
            self = .addressErrorCode(family: family, error: try reader.errorCode())
        case .unknownAttributes:
            guard value.readableBytes & 1 == 0 else { throw reader.invalid }
            var types: [UInt16] = []
            while let next = reader.value.readInteger(as: UInt16.self) { types.append(next) }
            self = .unknownAttributes(types)
        case .passwordAlgorithm:
            self = .passwordAlgorithm(try reader.passwordAlgorithm())
            try reader.expectEnd()
        case .passwordAlgorithms:
            var algorithms: [PasswordAlgorithm] = []
            while reader.value.readableBytes > 0 { algorithms.append(try reader.passwordAlgorithm()) }
            self = .passwordAlgorithms(algorithms)
        case .channelNumber:
            self = .channelNumber(try reader.exactly(4) { $0.readInteger(as: UInt16.self) })
        case .lifetime:
            self = .lifetime(try reader.exactly(4) { $0.readInteger(as: UInt32.self) })
        case .data:
            self = .data(value)
        case .requestedAddressFamily:
            let family = try reader.family()
            try reader.skipExactly(3)
            self = .requestedAddressFamily(family)
        case .additionalAddressFamily:
            let family = try reader.family()
            try reader.skipExactly(3)
            self = .additionalAddressFamily(family)
        case .evenPort:
            self = .evenPort(reserveNextPort: try reader.exactly(1) { $0.readInteger(as: UInt8.self) } & 0x80 != 0)
        case .requestedTransport:
            self = .requestedTransport(try reader.exactly(4) { $0.readInteger(as: UInt8.self) })
        case .dontFragment:
            try reader.expectEnd()
            self = .dontFragment
        case .useCandidate:
            try reader.expectEnd()
            self = .useCandidate
        case .reservationToken:
            self = .reservationToken(try reader.exactly(8) { $0.readInteger(as: UInt64.self) })
        case .icmp:
            let fields = try reader.exactly(8) { buffer -> (UInt8, UInt8, UInt32)? in
                buffer.moveReaderIndex(forwardBy: 2)
                guard let type = buffer.readInteger(as: UInt8.self), let code = buffer.readInteger(as: UInt8.self),
                    let data = buffer.readInteger(as: UInt32.self)
                else { return nil }
                return (type, code, data)
            }
            self = .icmp(type: fields.0, code: fields.1, data: fields.2)
        case .connectionID:
            self = .connectionID(try reader.exactly(4) { $0.readInteger(as: UInt32.self) })
        case .priority:
            self = .priority(try reader.exactly(4) { $0.readInteger(as: UInt32.self) })
        case .iceControlled:
            self = .iceControlled(tieBreaker: try reader.exactly(8) { $0.readInteger(as: UInt64.self) })
        case .iceControlling:
            self = .iceControlling(tieBreaker: try reader.exactly(8) { $0.readInteger(as: UInt64.self) })
        default:
            self = .unknown(type: type, value: value)
        }
    }
}

/// Reads one attribute's value; every read checks bounds and throws a typed error.
private struct AttributeReader {
    let type: STUNAttributeType
    var value: ByteBuffer

    var invalid: STUNDecodingError { STUNDecodingError(.invalidAttributeValue, attribute: type) }

    func expectEnd() throws(STUNDecodingError) {
        guard value.readableBytes == 0 else { throw invalid }
    }

    mutating func skip(_ count: Int) {
        value.moveReaderIndex(forwardBy: min(count, value.readableBytes))
    }

    mutating func skipExactly(_ count: Int) throws(STUNDecodingError) {
        guard value.readableBytes == count else { throw invalid }
        skip(count)
    }

    /// Requires the value to be exactly `size` bytes and reads it with `read`.
    mutating func exactly<T>(_ size: Int, _ read: (inout ByteBuffer) -> T?) throws(STUNDecodingError) -> T {
        guard value.readableBytes == size, let result = read(&value) else { throw invalid }
        return result
    }

    mutating func bytes(exactly size: Int) throws(STUNDecodingError) -> [UInt8] {
        guard value.readableBytes == size, let bytes = value.readBytes(length: size) else { throw invalid }
        return bytes
    }

    mutating func text(maxBytes: Int) throws(STUNDecodingError) -> String {
        let length = value.readableBytes
        guard length <= maxBytes else { throw STUNDecodingError(.invalidText, attribute: type) }
        let text =
            value.readableBytesView.withContiguousStorageIfAvailable {
                String(validating: $0, as: UTF8.self)
            } ?? String(validating: Array(value.readableBytesView), as: UTF8.self)
        guard let text else { throw STUNDecodingError(.invalidText, attribute: type) }
        value.moveReaderIndex(forwardBy: length)
        return text
    }

    mutating func family() throws(STUNDecodingError) -> AddressFamily {
        guard let raw = value.readInteger(as: UInt8.self), let family = AddressFamily(rawValue: raw) else {
            throw invalid
        }
        return family
    }

    /// MAPPED-ADDRESS layout (RFC 8489 §14.1), optionally XOR-ed with the cookie and transaction ID (§14.2).
    mutating func address(xor transactionID: TransactionID?) throws(STUNDecodingError) -> TransportAddress {
        guard value.readableBytes >= 4 else { throw invalid }
        skip(1)
        let family = try family()
        let portMask: UInt16 = transactionID == nil ? 0 : UInt16(STUNConstants.magicCookie >> 16)
        let port = value.readInteger(as: UInt16.self)! ^ portMask
        switch family {
        case .ipv4:
            guard value.readableBytes == 4 else { throw invalid }
            let mask = transactionID == nil ? 0 : STUNConstants.magicCookie
            return TransportAddress(ip: .v4(value.readInteger(as: UInt32.self)! ^ mask), port: port)
        case .ipv6:
            guard value.readableBytes == 16 else { throw invalid }
            var high = value.readInteger(as: UInt64.self)!
            var low = value.readInteger(as: UInt64.self)!
            if let transactionID {
                high ^= UInt64(STUNConstants.magicCookie) << 32 | transactionID.high >> 32
                low ^= transactionID.high << 32 | UInt64(transactionID.low)
            }
            return TransportAddress(ip: .v6(high: high, low: low), port: port)
        }
    }

    /// ERROR-CODE layout (RFC 8489 §14.8): 21 reserved bits, class (3 bits), number (8 bits), reason.
    mutating func errorCode() throws(STUNDecodingError) -> STUNErrorCode {
        guard value.readableBytes >= 4 - (type == .addressErrorCode ? 2 : 0) else { throw invalid }
        if type == .errorCode { skip(2) }
        let errorClass = Int(value.readInteger(as: UInt8.self)! & 0x07)
        let number = Int(value.readInteger(as: UInt8.self)!)
        guard (3...6).contains(errorClass), number < 100 else { throw invalid }
        let reason = try text(maxBytes: STUNConstants.maxTextBytes)
        return STUNErrorCode(code: errorClass * 100 + number, reason: reason)
    }

    /// One algorithm entry (RFC 8489 §14.5): number, parameter length, parameters padded to four bytes.
    mutating func passwordAlgorithm() throws(STUNDecodingError) -> PasswordAlgorithm {
        guard let number = value.readInteger(as: UInt16.self), let length = value.readInteger(as: UInt16.self),
            value.readableBytes >= Int(length), let parameters = value.readBytes(length: Int(length))
        else { throw invalid }
        skip(paddedLength(Int(length)) - Int(length))
        return PasswordAlgorithm(number: number, parameters: parameters)
    }
}
