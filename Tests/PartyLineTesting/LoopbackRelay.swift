import NIOCore
import NIOPosix
import RelayServer
import STUN
import ServerTLS

extension RelayServerConfiguration {
    /// Listeners on loopback with ports chosen by the kernel: UDP and TCP on 127.0.0.1 and ::1, TLS too when
    /// a certificate is given.
    public static func loopback(certificate: TLSCertificateFiles? = nil, udpSocketsPerAddress: Int = 2) -> Self {
        let addresses = [ListenAddress(host: "127.0.0.1", port: 0), ListenAddress(host: "::1", port: 0)]
        return RelayServerConfiguration(
            udp: addresses, tcp: addresses, tls: certificate == nil ? [] : addresses, certificate: certificate,
            software: "PartyLine test", udpSocketsPerAddress: udpSocketsPerAddress)
    }
}

extension RelayServer {
    /// Starts a server with `configuration`, runs `body` with it, and stops it whether `body` throws or not.
    public static func withRunning(
        _ configuration: RelayServerConfiguration, _ body: (RelayServer) async throws -> Void
    ) async throws {
        let server = RelayServer(configuration: configuration)
        try await server.start()
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// A TCP port on 127.0.0.1 that nothing listens on just now (the kernel's pick, released at once): for a
    /// server whose URLs must name its port before it starts.
    public static func freeTCPPort() async throws -> Int {
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress?.port ?? 0
        try await probe.close()
        guard port != 0 else { throw ConfigurationError("no free TCP port") }
        return port
    }

    /// A UDP port free on both 0.0.0.0 and [::] just now.
    public static func withFreeUDPPort() async throws -> Int {
        for _ in 0..<20 {
            let v4 = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "0.0.0.0", port: 0).get()
            let port = v4.localAddress?.port ?? 0
            let v6 = try? await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
                .bind(host: "::", port: port).get()
            try await v4.close()
            if let v6 {
                try await v6.close()
                return port
            }
        }
        throw ConfigurationError("no free UDP port")
    }

    /// The bound address of the first listener for `transport` and IP family.
    public func address(_ transport: RelayTransport, ipv6: Bool = false) -> SocketAddress? {
        listeners.first { $0.transport == transport && ($0.address.protocol == .inet6) == ipv6 }?.address
    }
}
