import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Signalling

/// The signalling routes: the WebSocket endpoint and the session-setup API for a coordinator.
public enum SignallingRoutes {
    /// Largest request body the API reads.
    static let maximumBody = 64 * 1024

    public static func add(to router: Router<SignallingRequestContext>, hub: SignallingHub) {
        router.ws("/v1/signal") { inbound, outbound, context in
            let channel = context.requestContext.channel
            try await SignallingEndpoint.serve(inbound: inbound, outbound: outbound, hub: hub) {
                channel.close(promise: nil)
            }
        }
        router.post("/v1/sessions") { request, _ -> Response in
            try authorize(request, hub)
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumBody)
            } catch {
                throw APIError(.contentTooLarge, "body-too-large", "the body is over \(maximumBody) bytes")
            }
            let create: CreateSessionRequest
            do {
                create = try JSONDecoder().decode(CreateSessionRequest.self, from: Data(body.readableBytesView))
            } catch {
                throw APIError(.badRequest, "invalid-json", "the body is not a session request")
            }
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
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            hub.isAuthorized(header.dropFirst("Bearer ".count))
        else { throw APIError.unauthorized }
    }
}

/// `GET /v1/sessions/{id}/evidence`: the chained entries, the signed head once finished, and the key.
struct EvidenceResponse: Encodable {
    let entries: [EvidenceLog.Entry]
    let signedHead: EvidenceLog.SignedHead?
    /// Hex Ed25519 public key that verifies `signedHead`.
    let publicKey: String
}
