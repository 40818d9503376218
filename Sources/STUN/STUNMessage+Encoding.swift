import Crypto
import NIOCore

/// Which message-integrity attributes to append when encoding, and with which key (RFC 8489 §14.5, §14.6).
public struct STUNSigning: Sendable {
    public var key: STUNKey
    public var algorithms: [STUNIntegrityAlgorithm]

    public init(key: STUNKey, algorithms: [STUNIntegrityAlgorithm] = [.hmacSHA1]) {
        self.key = key
        self.algorithms = algorithms
    }
}

extension STUNMessage {
    /// Encodes the message at the buffer's writer index.
    ///
    /// Attributes are written as given (a MESSAGE-INTEGRITY or FINGERPRINT already in ``attributes`` is
    /// written verbatim). Then, in RFC order, MESSAGE-INTEGRITY and/or MESSAGE-INTEGRITY-SHA256 are computed
    /// and appended when `signing` is given, and FINGERPRINT when `fingerprint` is true. `paddingByte` fills
    /// attribute padding (receivers ignore it; RFC 5769's vectors use 0x20).
    public func encode(
        into buffer: inout ByteBuffer, signing: STUNSigning? = nil, fingerprint: Bool = false,
        paddingByte: UInt8 = 0
    ) {
        let start = buffer.writeSTUNHeader(type: type, transactionID: transactionID)
        for attribute in attributes {
            attribute.encode(into: &buffer, transactionID: transactionID, paddingByte: paddingByte)
        }
        if let signing {
            for algorithm in [STUNIntegrityAlgorithm.hmacSHA1, .hmacSHA256] where signing.algorithms.contains(algorithm)
            {
                STUNMessage.appendIntegrity(algorithm, key: signing.key, to: &buffer, messageStart: start)
            }
        }
        if fingerprint { STUNMessage.appendFingerprint(to: &buffer, messageStart: start) }
        buffer.setInteger(UInt16(buffer.writerIndex - start - STUNConstants.headerSize), at: start + 2)
    }

    /// The message encoded into a new buffer.
    public func encoded(signing: STUNSigning? = nil, fingerprint: Bool = false, paddingByte: UInt8 = 0) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer, signing: signing, fingerprint: fingerprint, paddingByte: paddingByte)
        return buffer
    }

    /// Appends MESSAGE-INTEGRITY(-SHA256) over the message written from `messageStart`, first setting the
    /// header length to include the new attribute as RFC 8489 §14.5 requires.
    static func appendIntegrity(
        _ algorithm: STUNIntegrityAlgorithm, key: STUNKey, to buffer: inout ByteBuffer, messageStart start: Int
    ) {
        let attributeSize = 4 + algorithm.size
        buffer.setInteger(
            UInt16(buffer.writerIndex - start - STUNConstants.headerSize + attributeSize), at: start + 2)
        let mac = buffer.withUnsafeReadableBytes { raw in
            let base = start - buffer.readerIndex
            return algorithm.authenticationCode(
                for: [UnsafeRawBufferPointer(rebasing: raw[base..<(raw.count)])], key: key)
        }
        buffer.writeInteger(algorithm.attributeType.rawValue)
        buffer.writeInteger(UInt16(algorithm.size))
        buffer.writeBytes(mac)
    }

    /// Appends FINGERPRINT (RFC 8489 §14.7) over the message written from `messageStart`.
    public static func appendFingerprint(to buffer: inout ByteBuffer, messageStart start: Int) {
        buffer.setInteger(UInt16(buffer.writerIndex - start - STUNConstants.headerSize + 8), at: start + 2)
        let crc = buffer.withUnsafeReadableBytes { raw in
            CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[(start - buffer.readerIndex)...]))
        }
        buffer.writeInteger(STUNAttributeType.fingerprint.rawValue)
        buffer.writeInteger(UInt16(4))
        buffer.writeInteger(crc ^ STUNConstants.fingerprintXOR)
    }
}

extension ByteBuffer {
    /// Writes a 20-byte STUN header with a zero length (to be set once the attributes are written) and
    /// returns the index it starts at.
    @discardableResult
    public mutating func writeSTUNHeader(type: STUNMessageType, transactionID: TransactionID) -> Int {
        let start = writerIndex
        writeInteger(type.rawValue)
        writeInteger(UInt16(0))
        writeInteger(STUNConstants.magicCookie)
        writeInteger(transactionID.high)
        writeInteger(transactionID.low)
        return start
    }
}
