import Testing

@testable import STUN

@Suite("host:port text")
struct HostPortTests {
    @Test(
        "parses names, IPv4 and bracketed or bare IPv6",
        arguments: [
            ("example.org", "example.org", 3478), ("example.org:80", "example.org", 80), ("10.1.2.3:0", "10.1.2.3", 0),
            ("[::1]", "::1", 3478), ("[2001:db8::1]:5349", "2001:db8::1", 5349), ("::1", "::1", 3478),
        ])
    func parses(text: String, host: String, port: Int) {
        #expect(HostPort(parsing: text, defaultPort: 3478) == HostPort(host: host, port: port))
    }

    @Test(
        "refuses what is not host:port",
        arguments: ["", ":80", "host:", "host:x", "[::1", "[::1]80", "[]:1", "h:65536", "h:-1"])
    func refuses(text: String) {
        #expect(HostPort(parsing: text, defaultPort: 3478) == nil)
    }

    @Test("writes IPv6 hosts in brackets")
    func description() {
        #expect(HostPort(host: "::1", port: 3478).description == "[::1]:3478")
        #expect(HostPort(host: "127.0.0.1", port: 1).description == "127.0.0.1:1")
    }
}
