import Crypto
import Foundation
import HTTPHost
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Shared
import Signalling

/// The signalling routes: the WebSocket endpoint and the session-setup API for a coordinator.
public enum SignallingRoutes {
    /// The path of the signalling WebSocket.
    static let webSocketPath = "/v1/signal"

    /// The signalling WebSocket as the HTTP host serves it: pings every `hub.configuration.heartbeat`.
    public static func webSocket(hub: SignallingHub) -> HTTPHost.WebSocketEndpoint {
        HTTPHost.WebSocketEndpoint(
            maxFrameSize: SignallingEndpoint.maximumFrame, pingInterval: hub.configuration.heartbeat,
            shouldUpgrade: { head, channel, _ in upgrade(head, channel: channel, hub: hub) })
    }

    /// Whether an upgrade request becomes a signalling WebSocket: `GET /v1/signal` (with any query). Not
    /// `router.ws`: hummingbird-websocket 2.8's router upgrade keeps the request context in a box the context
    /// itself owns, a reference cycle that leaked every connection (about 5 KB, its closed channel included).
    static func upgrade(_ head: HTTPRequest, channel: any Channel, hub: SignallingHub)
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    {
        let path = head.path?.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first
        guard head.method == .get, path == Substring(webSocketPath) else { return .dontUpgrade }
        return .upgrade([:]) { inbound, outbound, _ in
            try await SignallingEndpoint.serve(inbound: inbound, outbound: outbound, hub: hub) {
                channel.close(promise: nil)
            }
        }
    }

    public static func add(to router: Router<HostRequestContext>, hub: SignallingHub) {
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
        router.get("/v1/sessions/:id/turn") { request, context -> Response in
            try authorize(request, hub)
            let id = context.parameters.get("id") ?? ""
            guard hub.session(id) != nil else { throw APIError.notFound }
            guard let turn = hub.turnInProgress(of: id) else {
                throw APIError(.notFound, "no-turn-running", "no turn of this session is running now")
            }
            return JSONResponse.make(turn)
        }
        router.get("/v1/sessions/:id/evidence") { request, context -> Response in
            try authorize(request, hub)
            guard let session = hub.session(context.parameters.get("id") ?? "") else { throw APIError.notFound }
            let (entries, signedHead) = session.evidence()
            return JSONResponse.make(
                PublishedEvidence(
                    entries: entries, signedHead: signedHead,
                    publicKey: Hex.encode(hub.evidenceKey.publicKey.rawRepresentation)))
        }
    }

    private static func authorize(_ request: Request, _ hub: SignallingHub) throws {
        try hub.apiKeys.authorize(request, APIError.unauthorized.message)
    }
}
