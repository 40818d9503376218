import AsyncHTTPClient
import NIOCore

/// The HTTP client nodes of a cluster call each other with. A node that is gone refuses the connection, and
/// the call fails at once (connection attempts are not retried until the deadline, as the shared client's
/// are): the caller reads the cluster's table again and moves on.
enum ClusterHTTP {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(1), read: .seconds(30))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
