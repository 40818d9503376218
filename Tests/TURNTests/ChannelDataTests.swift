import NIOCore
import TURN
import Testing

@Suite("ChannelData codec")
struct ChannelDataTests {
    @Test("round trips with and without stream padding")
    func roundTrip() throws {
        for size in 0...9 {
            let message = ChannelData(channel: 0x4001, data: ByteBuffer(bytes: (0..<size).map { UInt8($0) }))
            for padded in [false, true] {
                var buffer = ByteBuffer()
                message.encode(into: &buffer, padded: padded)
                #expect(buffer.readableBytes == 4 + (padded ? (size + 3) & ~3 : size))
                #expect(try ChannelData(decoding: buffer) == message)
            }
        }
    }

    @Test("malformed ChannelData is a typed error")
    func malformed() {
        #expect(throws: ChannelData.DecodingError.truncatedHeader) {
            try ChannelData(decoding: ByteBuffer(bytes: [0x40, 0x00, 0x00]))
        }
        #expect((try? ChannelData(decoding: ByteBuffer(bytes: [0x7F, 0xFF, 0x00, 0x00])))?.channel == 0x7FFF)
        #expect(throws: ChannelData.DecodingError.invalidChannel(0x8000)) {
            try ChannelData(decoding: ByteBuffer(bytes: [0x80, 0x00, 0x00, 0x00]))
        }
        #expect(throws: ChannelData.DecodingError.invalidChannel(0x3FFF)) {
            try ChannelData(decoding: ByteBuffer(bytes: [0x3F, 0xFF, 0x00, 0x00]))
        }
        #expect(throws: ChannelData.DecodingError.lengthExceedsInput) {
            try ChannelData(decoding: ByteBuffer(bytes: [0x40, 0x00, 0x00, 0x05, 1, 2]))
        }
        #expect(throws: ChannelData.DecodingError.trailingBytes) {
            try ChannelData(decoding: ByteBuffer(bytes: [0x40, 0x00, 0x00, 0x00, 1, 2, 3, 4]))
        }
    }
}
