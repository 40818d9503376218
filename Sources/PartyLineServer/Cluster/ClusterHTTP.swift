import AsyncHTTPClient
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The HTTP client nodes of a cluster call each other with. A node that is gone refuses the connection, and
/// the call fails at once (connection attempts are not retried until the deadline, as the shared client's
/// are): the caller reads the cluster's table again and moves on. Redirects are not followed.
enum ClusterHTTP {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(1), read: .seconds(30))
        // A redirect would carry the cluster's key to its target and turn a forwarded POST into a GET: none
        // is followed, the answer goes back as it is.
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Whether a call failed before reaching the node (no connection was made): the node may be gone, and
    /// the request was certainly not sent.
    static func neverConnected(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError { return error == .connectTimeout }
        if error is NIOConnectionError { return true }
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        return false
    }
}
