import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of PartyLine's HTTP server: Hummingbird's, plus the connection's channel, so the
/// signalling layer can drop a WebSocket whose client stopped reading.
public struct SignallingRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}
