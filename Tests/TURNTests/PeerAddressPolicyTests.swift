import STUN
import TURN
import Testing

@Suite("Peer address policy")
struct PeerAddressPolicyTests {
    let policy = PeerAddressPolicy()

    @Test(
        "refused by default: loopback, private, link-local, metadata, multicast and their IPv6 disguises",
        arguments: [
            "127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "172.16.5.4", "192.168.1.1",
            "100.64.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1", "::", "fe80::1", "fd00::1",
            "ff02::1", "64:ff9b::a00:1", "64:ff9b:1::7f00:1", "2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "::ffff:10.1.2.3", "::192.168.0.1", "2001:db8::1",
        ])
    func refused(address: String) throws {
        let ip = try #require(IPAddress(parsing: address))
        #expect(policy.refusal(for: ip) != nil, "\(address) was allowed")
    }

    @Test(
        "public addresses are allowed",
        arguments: [
            "8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2a00:1450::1",
        ])
    func allowed(address: String) throws {
        let ip = try #require(IPAddress(parsing: address))
        #expect(policy.refusal(for: ip) == nil, "\(address) was refused")
    }

    @Test("the allowlist wins; the server's own addresses are refused in every form")
    func allowlistAndServer() throws {
        var policy = PeerAddressPolicy(allowed: [IPNetwork(parsing: "127.0.0.0/8")!, IPNetwork(parsing: "::1")!])
        #expect(policy.refusal(for: IPAddress(parsing: "127.0.0.1")!) == nil)
        #expect(policy.refusal(for: IPAddress(parsing: "::ffff:127.0.0.1")!) == nil)
        #expect(policy.refusal(for: IPAddress(parsing: "::1")!) == nil)
        #expect(policy.refusal(for: IPAddress(parsing: "10.0.0.1")!) != nil)
        policy = PeerAddressPolicy(serverAddresses: [IPAddress(parsing: "203.0.114.7")!])
        #expect(policy.refusal(for: IPAddress(parsing: "203.0.114.7")!) == .serverAddress)
        #expect(policy.refusal(for: IPAddress(parsing: "::ffff:203.0.114.7")!) == .serverAddress)
    }

    @Test("a server address is a peer on relay ports only; denied networks stay denied")
    func relayToRelay() throws {
        let server = try #require(IPAddress(parsing: "203.0.114.7"))
        let policy = PeerAddressPolicy(
            serverAddresses: [server, IPAddress(parsing: "127.0.0.1")!], relayPorts: 49152...65535)
        #expect(policy.permissionRefusal(for: server) == nil)
        #expect(policy.refusal(for: TransportAddress(ip: server, port: 50000)) == nil)
        #expect(policy.refusal(for: TransportAddress(ip: server, port: 3478)) == .serverAddress)
        #expect(policy.refusal(for: TransportAddress(ip: server, port: 8080)) == .serverAddress)
        let loopback = try #require(IPAddress(parsing: "127.0.0.1"))
        #expect(policy.permissionRefusal(for: loopback) != nil)
        #expect(policy.refusal(for: TransportAddress(ip: loopback, port: 50000)) != nil)
        let withoutRange = PeerAddressPolicy(serverAddresses: [server])
        #expect(withoutRange.permissionRefusal(for: server) == .serverAddress)
    }

    @Test("the server's own listeners are refused whatever the allowlist says; its other ports follow it")
    func listenersStayUnreachable() throws {
        let policy = PeerAddressPolicy(
            allowed: [IPNetwork(parsing: "127.0.0.0/8")!],
            serverNetworks: [IPNetwork(parsing: "127.0.0.0/8")!, IPNetwork(parsing: "::1/128")!],
            listenerPorts: [.udp: [3478], .tcp: [3478, 5349, 8080]], relayPorts: 49152...65535)
        func peer(_ text: String, _ port: UInt16) -> TransportAddress {
            TransportAddress(ip: IPAddress(parsing: text)!, port: port)
        }
        #expect(policy.refusal(for: peer("127.0.0.1", 3478)) == .serverListener(port: 3478))
        #expect(policy.refusal(for: peer("127.0.0.2", 3478)) == .serverListener(port: 3478))
        #expect(policy.refusal(for: peer("::ffff:127.0.0.1", 3478)) == .serverListener(port: 3478))
        #expect(policy.refusal(for: peer("::ffff:0:127.0.0.1", 3478)) == .serverListener(port: 3478))
        #expect(policy.refusal(for: peer("127.0.0.1", 8080), transport: .tcp) == .serverListener(port: 8080))
        #expect(policy.refusal(for: peer("127.0.0.1", 5349), transport: .tcp) == .serverListener(port: 5349))
        // UDP to a port only TCP listens on reaches no listener.
        #expect(policy.refusal(for: peer("127.0.0.1", 8080)) == nil)
        // Allowed loopback peers on other ports, and relay ports, pass.
        #expect(policy.refusal(for: peer("127.0.0.1", 40000)) == nil)
        #expect(policy.refusal(for: peer("127.0.0.1", 50000)) == nil)
        // Without the allowlist, only relay ports of the server's addresses (and loopback stays denied).
        let strict = PeerAddressPolicy(
            denied: [], serverNetworks: [IPNetwork(parsing: "203.0.114.7/32")!], listenerPorts: [.udp: [3478]],
            relayPorts: 49152...65535)
        #expect(strict.refusal(for: peer("203.0.114.7", 50000)) == nil)
        #expect(strict.refusal(for: peer("203.0.114.7", 40000)) == .serverAddress)
        #expect(strict.refusal(for: peer("203.0.114.7", 3478)) == .serverListener(port: 3478))
    }

    @Test("SIIT addresses (::ffff:0:0/96) are judged by their IPv4 address")
    func siit() throws {
        #expect(
            policy.refusal(for: IPAddress(parsing: "::ffff:0:127.0.0.1")!)
                == .deniedNetwork(IPNetwork(parsing: "127.0.0.0/8")!))
        #expect(policy.refusal(for: IPAddress(parsing: "::ffff:0:10.0.0.1")!) != nil)
        #expect(policy.refusal(for: IPAddress(parsing: "::ffff:0:169.254.169.254")!) != nil)
        #expect(policy.refusal(for: IPAddress(parsing: "::ffff:0:8.8.8.8")!) == nil)
    }

    @Test("networks parse and match by prefix")
    func networks() throws {
        let network = try #require(IPNetwork(parsing: "fc00::/7"))
        #expect(network.contains(IPAddress(parsing: "fdff::1")!))
        #expect(!network.contains(IPAddress(parsing: "fe00::1")!))
        #expect(!network.contains(IPAddress(parsing: "10.0.0.1")!))
        #expect(IPNetwork(parsing: "10.0.0.0/33") == nil)
        #expect(IPNetwork(parsing: "10.0.0.0/x") == nil)
        #expect(IPNetwork(parsing: "host/8") == nil)
        #expect(IPNetwork(parsing: "0.0.0.0/0")!.contains(IPAddress(parsing: "9.9.9.9")!))
    }
}
