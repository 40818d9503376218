import NIOCore

/// A decoded STUN message: type, transaction ID and typed attributes, in wire order.
public struct STUNMessage: Hashable, Sendable {
    public var type: STUNMessageType
    public var transactionID: TransactionID
    public var attributes: [STUNAttribute]

    public init(type: STUNMessageType, transactionID: TransactionID = .random(), attributes: [STUNAttribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    /// Validates and decodes a datagram holding exactly one message.
    public init(datagram: ByteBuffer) throws(STUNDecodingError) {
        self = try STUNMessageView(datagram: datagram).decode()
    }

    /// The first attribute of the given type (RFC 8489 §14: later duplicates are ignored).
    public func attribute(_ type: STUNAttributeType) -> STUNAttribute? {
        attributes.first { $0.type == type }
    }

    public var xorMappedAddress: TransportAddress? {
        if case .xorMappedAddress(let address) = attribute(.xorMappedAddress) { address } else { nil }
    }

    public var mappedAddress: TransportAddress? {
        if case .mappedAddress(let address) = attribute(.mappedAddress) { address } else { nil }
    }

    public var errorCode: STUNErrorCode? {
        if case .errorCode(let error) = attribute(.errorCode) { error } else { nil }
    }

    public var username: String? {
        if case .username(let text) = attribute(.username) { text } else { nil }
    }

    public var realm: String? {
        if case .realm(let text) = attribute(.realm) { text } else { nil }
    }

    public var nonce: String? {
        if case .nonce(let text) = attribute(.nonce) { text } else { nil }
    }

    public var software: String? {
        if case .software(let text) = attribute(.software) { text } else { nil }
    }
}
