import NIOCore
import RelayServer
import STUN
import Testing

/// The responder is a pure function: these tests need no sockets.
@Suite("Binding responder")
struct BindingResponderTests {
    let source = TransportAddress(ip: .v6(high: 0x2001_0DB8_0000_0000, low: 1), port: 40000)

    @Test("an IPv6 source is answered with its XOR-MAPPED-ADDRESS")
    func ipv6Source() throws {
        var out = ByteBuffer()
        let request = STUNMessage(type: .bindingRequest)
        let outcome = BindingResponder(software: "x").respond(to: request.encoded(), from: source, into: &out)
        #expect(outcome == .answered)
        let response = try STUNMessage(datagram: out)
        #expect(response.xorMappedAddress == source)
        #expect(response.transactionID == request.transactionID)
    }

    @Test("SOFTWARE is cut at a character boundary below 128 bytes, whatever the configured text")
    func softwareTruncation() throws {
        let long = String(repeating: "a", count: 126) + "é" + String(repeating: "ü", count: 100)
        var out = ByteBuffer()
        _ = BindingResponder(software: long).respond(
            to: STUNMessage(type: .bindingRequest).encoded(), from: source, into: &out)
        let software = try #require(try STUNMessage(datagram: out).software)
        #expect(software == String(repeating: "a", count: 126))
    }

    @Test("UNKNOWN-ATTRIBUTES lists at most 16 distinct types however many the request carries")
    func unknownListBounded() throws {
        let unknown = (0..<500).map {
            STUNAttribute.unknown(type: STUNAttributeType(rawValue: 0x7000 + UInt16($0 % 300)), value: ByteBuffer())
        }
        var out = ByteBuffer()
        let outcome = BindingResponder(software: "x").respond(
            to: STUNMessage(type: .bindingRequest, attributes: unknown).encoded(), from: source, into: &out)
        #expect(outcome == .answeredWithError(420))
        let response = try STUNMessage(datagram: out)
        #expect(response.attribute(.unknownAttributes) == .unknownAttributes((0..<16).map { 0x7000 + UInt16($0) }))
    }
}
