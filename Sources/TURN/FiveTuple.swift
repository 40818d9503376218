import STUN

/// The transport between a client and the relay (RFC 8656 §2: the allocation's 5-tuple names it).
public enum ClientTransport: String, Hashable, Sendable {
    case udp, tcp, tls
}

/// Client address, server address and transport: the key of an allocation (RFC 8656 §2).
public struct FiveTuple: Hashable, Sendable, CustomStringConvertible {
    public var client: TransportAddress
    public var server: TransportAddress
    public var transport: ClientTransport

    public init(client: TransportAddress, server: TransportAddress, transport: ClientTransport) {
        self.client = client
        self.server = server
        self.transport = transport
    }

    public var description: String { "\(transport) \(client) → \(server)" }
}
