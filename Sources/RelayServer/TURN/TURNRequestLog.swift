import Logging
import STUN
import TURN

/// The relay's log lines about TURN requests: each request at trace and each refusal at debug (both only
/// when that level is on), and refused peers at info, at most once a second with the count left out.
struct TURNRequestLog {
    let logger: Logger
    private var lastPeerRefusal: ContinuousClock.Instant?
    private var unloggedPeerRefusals = 0

    init(logger: Logger) { self.logger = logger }

    /// Logs a request and the error it was answered with, if any.
    func log(_ view: STUNMessageView, _ actions: [AllocationTable.Action], _ fiveTuple: FiveTuple) {
        logger.trace(
            "TURN request",
            metadata: [
                "method": "\(view.type.method)", "client": "\(fiveTuple)",
                "attributes": "\(Self.attributeTypes(view))",
            ])
        for case .toClient(_, let bytes) in actions {
            guard let response = try? STUNMessage(datagram: bytes), let error = response.errorCode else { continue }
            logger.debug(
                "TURN request refused",
                metadata: [
                    "method": "\(view.type.method)", "error": "\(error.code)", "client": "\(fiveTuple)",
                    "attributes": "\(Self.attributeTypes(view))",
                ])
        }
        if actions.isEmpty { logger.debug("TURN message without answer", metadata: ["client": "\(fiveTuple)"]) }
    }

    /// The attribute types of a request, never their values: USERNAME, NONCE and MESSAGE-INTEGRITY belong to
    /// the client's credentials, XOR-PEER-ADDRESS to where its media goes.
    private static func attributeTypes(_ view: STUNMessageView) -> String {
        "[" + ((try? view.decode())?.attributes ?? []).map { "\($0.type)" }.joined(separator: ", ") + "]"
    }

    /// Logs a peer the policy refused, at most once a second, with how many were not logged since.
    mutating func peerRefused(client: FiveTuple, peer: String, _ refusal: PeerAddressPolicy.Refusal) {
        let now = ContinuousClock.now
        if let last = lastPeerRefusal, now - last < .seconds(1) {
            unloggedPeerRefusals += 1
            return
        }
        lastPeerRefusal = now
        logger.info(
            "TURN peer refused (403)",
            metadata: [
                "client": "\(client)", "peer": "\(peer)", "rule": "\(refusal)",
                "notLogged": "\(unloggedPeerRefusals)",
            ])
        unloggedPeerRefusals = 0
    }
}
