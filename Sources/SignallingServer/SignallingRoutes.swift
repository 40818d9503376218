import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Signalling

/// The signalling routes: the WebSocket endpoint and the session-setup API for a coordinator.
public enum SignallingRoutes {
    public static func add(to router: Router<SignallingRequestContext>, hub: SignallingHub) {
        router.ws("/v1/signal") { inbound, outbound, context in
            let channel = context.requestContext.channel
            try await SignallingEndpoint.serve(inbound: inbound, outbound: outbound, hub: hub) {
                channel.close(promise: nil)
            }
        }
        router.post("/v1/sessions") { request, _ -> Response in
            try authorize(request, hub)
            let create = try await JSONRequest.decode(CreateSessionRequest.self, from: request)
            return JSONResponse.make(status: .created, try hub.createSession(create))
        }
        router.get("/v1/sessions/:id") { request, context -> Response in
            try authorize(request, hub)
            guard let session = hub.session(context.parameters.get("id") ?? "") else { throw APIError.notFound }
            return JSONResponse.make(session.summary())
        }
        router.get("/v1/sessions/:id/evidence") { request, context -> Response in
            try authorize(request, hub)
            guard let session = hub.session(context.parameters.get("id") ?? "") else { throw APIError.notFound }
            let (entries, signedHead) = session.evidence()
            return JSONResponse.make(
                EvidenceResponse(
                    entries: entries, signedHead: signedHead,
                    publicKey: Hex.encode(hub.evidenceKey.publicKey.rawRepresentation)))
        }
    }

    private static func authorize(_ request: Request, _ hub: SignallingHub) throws {
        guard let key = BearerKeys.presented(in: request), hub.apiKeys.contains(key) else {
            throw APIError.unauthorized
        }
    }
}

/// `GET /v1/sessions/{id}/evidence`: the chained entries, the signed head once finished, and the key.
struct EvidenceResponse: Encodable {
    let entries: [EvidenceLog.Entry]
    let signedHead: EvidenceLog.SignedHead?
    /// Hex Ed25519 public key that verifies `signedHead`.
    let publicKey: String
}
