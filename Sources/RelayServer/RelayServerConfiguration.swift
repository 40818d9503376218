import NIOCore

/// A host and port to listen on, written `0.0.0.0:3478`, `[::]:3478` or `127.0.0.1:0` (any free port).
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; a bare host takes `defaultPort`.
    public init(parsing text: String, defaultPort: Int) throws(ConfigurationError) {
        let trimmed = String(text.filter { !$0.isWhitespace })
        var host = trimmed
        var port = defaultPort
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { throw ConfigurationError("bad address '\(text)'") }
            host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            let rest = trimmed[trimmed.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let value = Int(rest.dropFirst()) else { throw ConfigurationError("bad port in '\(text)'") }
                port = value
            } else if !rest.isEmpty {
                throw ConfigurationError("bad address '\(text)'")
            }
        } else if let colon = trimmed.lastIndex(of: ":"), trimmed.firstIndex(of: ":") == colon {
            host = String(trimmed[..<colon])
            guard let value = Int(trimmed[trimmed.index(after: colon)...]) else {
                throw ConfigurationError("bad port in '\(text)'")
            }
            port = value
        }
        guard (0...65535).contains(port), !host.isEmpty else { throw ConfigurationError("bad address '\(text)'") }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A configuration value that cannot be used, with the reason.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Paths of a PEM certificate chain and its private key.
public struct TLSCertificateFiles: Hashable, Sendable {
    public var certificateChainPath: String
    public var privateKeyPath: String

    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}

/// Everything the STUN/TURN listeners need to start.
public struct RelayServerConfiguration: Sendable {
    public static let defaultPort = 3478
    public static let defaultTLSPort = 5349

    public var udp: [ListenAddress]
    public var tcp: [ListenAddress]
    /// Used only when ``certificate`` is set.
    public var tls: [ListenAddress]
    public var certificate: TLSCertificateFiles?
    /// The SOFTWARE attribute's value.
    public var software: String
    /// SO_REUSEPORT sockets per UDP address, each on its own event loop; 0 means one per core.
    public var udpSocketsPerAddress: Int
    /// Datagrams read per recvmmsg call.
    public var udpVectorReadCount: Int

    public init(
        udp: [ListenAddress] = [ListenAddress(host: "0.0.0.0", port: defaultPort), ListenAddress(host: "::", port: defaultPort)],
        tcp: [ListenAddress] = [ListenAddress(host: "0.0.0.0", port: defaultPort), ListenAddress(host: "::", port: defaultPort)],
        tls: [ListenAddress] = [ListenAddress(host: "0.0.0.0", port: defaultTLSPort), ListenAddress(host: "::", port: defaultTLSPort)],
        certificate: TLSCertificateFiles? = nil,
        software: String = "PartyLine",
        udpSocketsPerAddress: Int = 0,
        udpVectorReadCount: Int = 32
    ) {
        self.udp = udp
        self.tcp = tcp
        self.tls = tls
        self.certificate = certificate
        self.software = software
        self.udpSocketsPerAddress = udpSocketsPerAddress
        self.udpVectorReadCount = udpVectorReadCount
    }
}
