import NIOCore
import STUN

/// Answers STUN Binding requests: a pure function from request bytes and source address to response bytes.
///
/// RFC 8489 §6.3: requests get XOR-MAPPED-ADDRESS, SOFTWARE and FINGERPRINT; unknown comprehension-required
/// attributes get 420 with UNKNOWN-ATTRIBUTES. Methods the server does not support, indications, responses
/// and malformed input are silently discarded (§6.3), so spoofed garbage cannot be reflected. RFC 3489 clients (no magic
/// cookie) get MAPPED-ADDRESS as RFC 8489 §12 asks.
public struct BindingResponder: Sendable {
    /// What the responder did with one message.
    public enum Outcome: Hashable, Sendable {
        /// A success response was written.
        case answered
        /// An error response was written.
        case answeredWithError(Int)
        /// Nothing was written.
        case dropped(DropReason)
    }

    /// Why a message got no answer.
    public enum DropReason: Hashable, Sendable {
        case malformed(STUNDecodingError.Code)
        /// An indication (a Binding indication is a keepalive) or a response: never answered (RFC 8489 §6.3).
        case notARequest
        /// A request for a method this server does not support: silently discarded (RFC 8489 §6.3).
        case unsupportedMethod
    }

    /// SOFTWARE as encoded bytes (header, value, padding), computed once.
    let softwareAttribute: [UInt8]

    public init(software: String) {
        var buffer = ByteBuffer()
        STUNAttribute.software(Self.truncated(software, toUTF8Bytes: Self.maxSoftwareBytes))
            .encode(into: &buffer, transactionID: TransactionID(high: 0, low: 0))
        softwareAttribute = Array(buffer.readableBytesView)
    }

    /// RFC 8489 §14.14: fewer than 128 characters; PartyLine keeps it under 128 bytes.
    static let maxSoftwareBytes = 127

    /// The longest prefix of whole characters that fits in `limit` UTF-8 bytes.
    static func truncated(_ text: String, toUTF8Bytes limit: Int) -> String {
        var result = ""
        var size = 0
        for character in text {
            size += character.utf8.count
            guard size <= limit else { break }
            result.append(character)
        }
        return result
    }

    /// Handles one message (a datagram, or one framed message on a stream) from `source`, writing any
    /// response into `out`.
    public func respond(to message: ByteBuffer, from source: TransportAddress, into out: inout ByteBuffer) -> Outcome {
        let view: STUNMessageView
        do {
            view = try STUNMessageView(datagram: message)
        } catch {
            if error.code == .badMagicCookie { return respondClassic(to: message, from: source, into: &out) }
            return .dropped(.malformed(error.code))
        }
        guard view.type.messageClass == .request else { return .dropped(.notARequest) }
        guard view.type.method == .binding else { return .dropped(.unsupportedMethod) }
        if view.hasUnknownComprehensionRequiredAttributes {
            writeError(.unknownAttribute, for: view, into: &out) { out in
                STUNAttribute.unknownAttributes(view.unknownComprehensionRequiredAttributes())
                    .encode(into: &out, transactionID: view.transactionID)
            }
            return .answeredWithError(420)
        }
        let start = out.writeSTUNHeader(type: STUNMessageType.bindingSuccess, transactionID: view.transactionID)
        out.writeInteger(STUNAttributeType.xorMappedAddress.rawValue)
        out.writeInteger(UInt16(source.ip.family == .ipv4 ? 8 : 20))
        out.writeAddress(source, xor: view.transactionID)
        out.writeBytes(softwareAttribute)
        STUNMessage.appendFingerprint(to: &out, messageStart: start)
        return .answered
    }

    private func writeError(
        _ error: STUNErrorCode, for view: STUNMessageView, into out: inout ByteBuffer,
        extra: (inout ByteBuffer) -> Void
    ) {
        let start = out.writeSTUNHeader(
            type: STUNMessageType(method: view.type.method, messageClass: .errorResponse),
            transactionID: view.transactionID)
        STUNAttribute.errorCode(error).encode(into: &out, transactionID: view.transactionID)
        extra(&out)
        out.writeBytes(softwareAttribute)
        STUNMessage.appendFingerprint(to: &out, messageStart: start)
    }

    private func respondClassic(to message: ByteBuffer, from source: TransportAddress, into out: inout ByteBuffer)
        -> Outcome
    {
        do {
            let request = try ClassicBindingRequest(datagram: message)
            guard request.refusedAttributes.isEmpty else {
                request.writeUnknownAttributes(software: softwareAttribute, into: &out)
                return .answeredWithError(420)
            }
            request.writeSuccess(mappedAddress: source, software: softwareAttribute, into: &out)
            return .answered
        } catch {
            return .dropped(.malformed(error.code == .notSTUN ? .badMagicCookie : error.code))
        }
    }
}
