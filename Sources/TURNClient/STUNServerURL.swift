import NIOCore
import STUN

/// A STUN or TURN server address as RFC 7064 / RFC 7065 write it: `stun:host:port`, `stuns:host`,
/// `turn:host?transport=tcp`; the `//` form (`stun://host:port`) is accepted too.
public struct STUNServerURL: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Sendable { case stun, stuns, turn, turns }
    public enum Transport: String, Sendable { case udp, tcp, tls }

    public var scheme: Scheme
    public var host: String
    public var port: Int
    public var transport: Transport

    public init(scheme: Scheme, host: String, port: Int, transport: Transport) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.transport = transport
    }

    /// Parses the URL; nil when it is not one.
    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), let scheme = Scheme(rawValue: text[..<colon].lowercased()) else {
            return nil
        }
        var rest = Substring(text[text.index(after: colon)...])
        if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
        var query: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        let secure = scheme == .stuns || scheme == .turns
        guard let hostPort = HostPort(parsing: rest, defaultPort: secure ? 5349 : 3478), hostPort.port > 0 else {
            return nil
        }
        var transport: Transport = secure ? .tls : .udp
        if query.hasPrefix("transport=") {
            switch query.dropFirst("transport=".count).lowercased() {
            case "udp" where !secure: transport = .udp
            case "tcp": transport = secure ? .tls : .tcp
            default: return nil
            }
        } else if !query.isEmpty {
            return nil
        }
        self.init(scheme: scheme, host: hostPort.host, port: hostPort.port, transport: transport)
    }

    /// The server's address, resolving the host name when it is one; nil when it does not resolve.
    public func resolve() -> SocketAddress? {
        try? SocketAddress.makeAddressResolvingHost(host, port: port)
    }

    /// The name to send in TLS SNI and check the certificate against: the host, unless it is an IP literal.
    public var tlsServerName: String? {
        IPAddress(parsing: host) == nil ? host : nil
    }

    public var description: String {
        "\(scheme.rawValue):\(HostPort(host: host, port: port))?transport=\(transport == .tls ? "tcp" : transport.rawValue)"
    }
}
