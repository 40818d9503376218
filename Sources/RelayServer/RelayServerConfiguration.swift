import STUN
import ServerTLS

/// A host and port to listen on, written `0.0.0.0:3478`, `[::]:3478` or `127.0.0.1:0` (any free port).
public typealias ListenAddress = HostPort

extension HostPort {
    /// Parses a configured listen address; a bare host takes `defaultPort`. White space is ignored.
    public static func listenAddress(_ text: String, defaultPort: Int) throws(ConfigurationError) -> ListenAddress {
        guard let parsed = HostPort(parsing: text.filter { !$0.isWhitespace }, defaultPort: defaultPort) else {
            throw ConfigurationError("bad address '\(text)': expected host:port or [v6]:port")
        }
        return parsed
    }
}

/// A configuration value that cannot be used, with the reason.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A listener that could not be bound, naming its address and transport.
public struct ListenError: Error, CustomStringConvertible, Sendable {
    public var address: ListenAddress
    public var transport: String
    public var reason: String

    public init(address: ListenAddress, transport: String, reason: String) {
        self.address = address
        self.transport = transport
        self.reason = reason
    }

    public var description: String { "cannot listen on \(transport) \(address): \(reason)" }
}

/// Who reads and writes the UDP listener sockets and the relay sockets of UDP clients.
public enum UDPIO: String, Sendable, CaseIterable {
    /// ``DatagramPlane``s: threads of their own calling recvmmsg and sendmmsg with memory allocated once and
    /// raw socket addresses, and UDP GSO with a fallback when the kernel refuses it (Linux; the default there).
    case batched
    /// SwiftNIO's event loops, shared with TCP, TLS and HTTP (the default where `batched` is unsupported).
    case eventLoop = "event-loop"

    public static var defaultForPlatform: UDPIO { DatagramPlane.isSupported ? .batched : .eventLoop }
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
    /// SO_RCVBUF of each UDP listener socket, in bytes (the kernel caps it at net.core.rmem_max): a burst
    /// from many clients waits here while the loop relays the previous one.
    public var udpReceiveBufferBytes: Int
    /// Who reads and writes the UDP sockets.
    public var udpIO: UDPIO = .defaultForPlatform
    /// The TURN relay; nil (or no credentials in it) serves STUN Binding only.
    public var turn: TURNConfiguration?
    /// Caps and timeouts of TCP and TLS client connections.
    public var streams: StreamLimits
    /// TCP listeners of other services in this process (the HTTP server) that TURN must never reach, like its
    /// own; one bound to port 0 is protected through ``RelayServer/protect(_:)`` once bound.
    public var protectedAddresses: [ListenAddress] = []

    public init(
        udp: [ListenAddress] = [
            ListenAddress(host: "0.0.0.0", port: defaultPort), ListenAddress(host: "::", port: defaultPort),
        ],
        tcp: [ListenAddress] = [
            ListenAddress(host: "0.0.0.0", port: defaultPort), ListenAddress(host: "::", port: defaultPort),
        ],
        tls: [ListenAddress] = [
            ListenAddress(host: "0.0.0.0", port: defaultTLSPort), ListenAddress(host: "::", port: defaultTLSPort),
        ],
        certificate: TLSCertificateFiles? = nil,
        software: String = "PartyLine",
        udpSocketsPerAddress: Int = 0,
        udpVectorReadCount: Int = 32,
        udpReceiveBufferBytes: Int = 4 << 20,
        turn: TURNConfiguration? = nil,
        streams: StreamLimits = StreamLimits()
    ) {
        self.streams = streams
        self.udp = udp
        self.tcp = tcp
        self.tls = tls
        self.certificate = certificate
        self.software = software
        self.udpSocketsPerAddress = udpSocketsPerAddress
        self.udpVectorReadCount = udpVectorReadCount
        self.udpReceiveBufferBytes = udpReceiveBufferBytes
        self.turn = turn
    }
}
