import NIOCore

/// A ChannelData message (RFC 8656 §12.4): channel number, length, application data.
public struct ChannelData: Hashable, Sendable {
    /// RFC 8656 §12: channel numbers 0x4000 through 0x4FFF.
    public static let validChannels: ClosedRange<UInt16> = 0x4000...0x4FFF
    /// RFC 5766's wider range, which libwebrtc and coturn's clients still pick from: every number whose
    /// first two bits are 01, as the ChannelData encoding itself defines.
    public static let rfc5766Channels: ClosedRange<UInt16> = 0x4000...0x7FFF
    public static let headerSize = 4

    public var channel: UInt16
    public var data: ByteBuffer

    public init(channel: UInt16, data: ByteBuffer) {
        self.channel = channel
        self.data = data
    }

    /// Why bytes are not a ChannelData message.
    public enum DecodingError: Error, Hashable, Sendable {
        case truncatedHeader
        /// Outside 0x4000–0x7FFF (the table then enforces the configured range).
        case invalidChannel(UInt16)
        /// The length field promises more bytes than arrived.
        case lengthExceedsInput
        /// More than three bytes follow the data: not padding.
        case trailingBytes
    }

    /// Decodes one message from a datagram or a framed stream message. Up to three padding bytes may
    /// follow the data (required on TCP/TLS, allowed on UDP); the data is a slice, not a copy.
    public init(decoding bytes: ByteBuffer) throws(DecodingError) {
        guard let channel = bytes.getInteger(at: bytes.readerIndex, as: UInt16.self),
            let length = bytes.getInteger(at: bytes.readerIndex + 2, as: UInt16.self)
        else { throw .truncatedHeader }
        guard Self.rfc5766Channels.contains(channel) else { throw .invalidChannel(channel) }
        let available = bytes.readableBytes - Self.headerSize
        guard Int(length) <= available else { throw .lengthExceedsInput }
        guard available - Int(length) <= 3 else { throw .trailingBytes }
        self.init(channel: channel, data: bytes.getSlice(at: bytes.readerIndex + Self.headerSize, length: Int(length))!)
    }

    /// Writes the message; `padded` adds the zero padding to a multiple of four that TCP and TLS need.
    public func encode(into buffer: inout ByteBuffer, padded: Bool) {
        buffer.writeInteger(channel)
        buffer.writeInteger(UInt16(truncatingIfNeeded: data.readableBytes))
        var payload = data
        buffer.writeBuffer(&payload)
        if padded {
            let padding = (4 - data.readableBytes % 4) % 4
            buffer.writeRepeatingByte(0, count: padding)
        }
    }
}
