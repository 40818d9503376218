import NIOCore

/// How STUN/TURN connections over TCP and TLS are bounded, so that clients that never finish, never
/// read or never leave cannot hold the server's memory or file descriptors.
public struct StreamLimits: Hashable, Sendable {
    /// Connections at once over every TCP and TLS listener; 0 takes three eighths of the open-file limit.
    public var maxConnections: Int
    /// Connections at once from one IPv4 address or IPv6 /64; 0 for no cap.
    public var maxConnectionsPerAddress: Int
    /// The TLS handshake and the first complete STUN message or ChannelData must arrive within this.
    public var firstMessageTimeout: Duration
    /// A connection that holds no live allocation and sends nothing for this long is closed (one that
    /// holds an allocation stays as long as the allocation does).
    public var idleTimeout: Duration
    /// Bytes queued toward a client above which the server stops reading from it (its requests wait in
    /// the kernel) and drops data relayed to it, as UDP would; reading resumes below half of it.
    public var outboundBufferBytes: Int

    public init(
        maxConnections: Int = 0, maxConnectionsPerAddress: Int = 256, firstMessageTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60), outboundBufferBytes: Int = 64 * 1024
    ) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.firstMessageTimeout = firstMessageTimeout
        self.idleTimeout = idleTimeout
        self.outboundBufferBytes = outboundBufferBytes
    }

    var waterMark: ChannelOptions.Types.WriteBufferWaterMark {
        let high = max(1024, outboundBufferBytes)
        return .init(low: high / 2, high: high)
    }
}
