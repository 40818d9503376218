import NIOCore

/// One message cut from a TCP or TLS byte stream.
public enum STUNStreamFrame: Sendable {
    /// A whole STUN message, header included.
    case stun(ByteBuffer)
    /// A ChannelData message (RFC 8656 §12.5), header included, padding stripped.
    case channelData(ByteBuffer)
}

/// The stream carries something that is neither STUN nor ChannelData: the connection cannot resynchronise.
public struct STUNStreamFramingError: Error, Hashable, Sendable {
    public var reason: String
}

/// Frames STUN and ChannelData messages on stream transports (RFC 8489 §6.2.2, RFC 8656 §12.5: ChannelData
/// is padded to a multiple of four bytes over TCP and TLS).
public struct STUNStreamFramer: ByteToMessageDecoder {
    public typealias InboundOut = STUNStreamFrame

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
        switch first >> 6 {
        case 0b00:
            let length: Int?
            do {
                length = try STUNMessageView.messageLength(of: buffer)
            } catch {
                throw STUNStreamFramingError(reason: "\(error.code)")
            }
            guard let length, let message = buffer.readSlice(length: length) else { return .needMoreData }
            context.fireChannelRead(wrapInboundOut(.stun(message)))
            return .continue
        case 0b01:
            guard let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) else {
                return .needMoreData
            }
            let padded = (Int(length) + 3) & ~3
            guard buffer.readableBytes >= 4 + padded else { return .needMoreData }
            let message = buffer.readSlice(length: 4 + Int(length))!
            buffer.moveReaderIndex(forwardBy: padded - Int(length))
            context.fireChannelRead(wrapInboundOut(.channelData(message)))
            return .continue
        default:
            throw STUNStreamFramingError(reason: "first byte 0x\(String(first, radix: 16))")
        }
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
