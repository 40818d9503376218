import Hummingbird
import NIOCore

/// The request context of PartyLine's HTTP server: Hummingbird's, plus the client's address for
/// per-address rate limits. It holds no channel: a context outlives its request in some of Hummingbird's
/// paths, and must not keep a closed connection alive with it.
public struct HostRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's address (for a request another node of the cluster forwarded, the address it was
    /// forwarded for).
    public var remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
