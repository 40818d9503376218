import NIOCore
import STUN

/// One client Binding transaction as plain state: the request bytes, RFC 8489's retransmission schedule,
/// and the matching of responses. The driver (``STUNClient``) owns the sockets and timers.
public struct BindingTransaction: Sendable {
    /// What a response meant for this transaction.
    public enum Result: Hashable, Sendable {
        case success(mapped: TransportAddress, software: String?)
        case errorResponse(STUNErrorCode)
    }

    public let transactionID: TransactionID
    public let request: ByteBuffer
    private let reliable: Bool
    private var sends = 0

    /// RFC 8489 §6.2.1 defaults: initial RTO 500 ms, Rc = 7 sends, a final wait of Rm = 16 RTOs.
    public static let initialRTO: Duration = .milliseconds(500)
    public static let maxSends = 7
    public static let finalWaitFactor = 16
    /// RFC 8489 §6.2.2: Ti = 39.5 s over reliable transports.
    public static let reliableTimeout: Duration = .milliseconds(39_500)

    public init(reliable: Bool, transactionID: TransactionID = .random(), software: String? = "PartyLine probe") {
        self.transactionID = transactionID
        self.reliable = reliable
        let message = STUNMessage(
            type: .bindingRequest, transactionID: transactionID, attributes: software.map { [.software($0)] } ?? [])
        request = message.encoded(fingerprint: true)
    }

    /// Records a send and returns how long to wait for an answer before the next step: another send, or
    /// giving up when nil is returned on the following call.
    public mutating func recordSend() -> Duration? {
        defer { sends += 1 }
        if reliable { return sends == 0 ? Self.reliableTimeout : nil }
        guard sends < Self.maxSends else { return nil }
        if sends == Self.maxSends - 1 { return Self.initialRTO * Self.finalWaitFactor }
        return Self.initialRTO * (1 << sends)
    }

    /// Interprets a received message: nil when it is not a valid response to this transaction.
    public func handle(response bytes: ByteBuffer) -> Result? {
        guard let view = try? STUNMessageView(datagram: bytes), view.transactionID == transactionID,
            view.type.method == .binding, let message = try? view.decode()
        else { return nil }
        switch view.type.messageClass {
        case .successResponse:
            guard let mapped = message.xorMappedAddress ?? message.mappedAddress else { return nil }
            return .success(mapped: mapped, software: message.software)
        case .errorResponse:
            return message.errorCode.map(Result.errorResponse)
        case .request, .indication:
            return nil
        }
    }
}
