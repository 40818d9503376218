import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WebPage

/// The page served over a real socket on loopback: the right files, media types and security headers.
@Suite("Serving the web page", .timeLimit(.minutes(1)))
struct WebPageServingTests {
    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let body: String
    }

    static func withServer(_ body: (Int) async throws -> Void) async throws {
        let router = Router()
        let site = try WebSite.bundled()
        WebPageRoutes.add(to: router, site: site, policy: WebPagePolicy(signallingURL: "wss://party.example/v1/signal"))
        var logger = Logger(label: "test.web")
        logger.logLevel = .critical
        let (ports, report) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { report.yield($0.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup { group in
            group.addTask {
                defer { report.finish() }
                try await app.run()
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            defer { group.cancelAll() }
            try await body(port)
        }
    }

    static func get(_ port: Int, _ path: String, method: HTTPMethod = .GET, headers: [(String, String)] = [])
        async throws -> Reply
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Reply(
            status: Int(response.status.code), headers: response.headers,
            body: String(decoding: body.readableBytesView, as: UTF8.self))
    }

    @Test("/ and /join are the two pages; /app/ holds their modules and stylesheet, with their media types")
    func pagesAndFiles() async throws {
        try await Self.withServer { port in
            let index = try await Self.get(port, "/")
            #expect(index.status == 200 && index.headers["Content-Type"] == ["text/html; charset=utf-8"])
            #expect(index.body.contains(#"<script type="module" src="/app/main.js"></script>"#))
            let join = try await Self.get(port, "/join")
            #expect(join.status == 200 && join.body.contains(#"src="/app/join.js""#))
            let script = try await Self.get(port, "/app/session.js")
            #expect(script.status == 200 && script.headers["Content-Type"] == ["text/javascript; charset=utf-8"])
            let style = try await Self.get(port, "/app/style.css")
            #expect(style.status == 200 && style.headers["Content-Type"] == ["text/css; charset=utf-8"])
            let head = try await Self.get(port, "/", method: .HEAD)
            #expect(head.status == 200 && head.body.isEmpty)
        }
    }

    @Test("every answer carries a strict Content-Security-Policy and no-referrer, 404s included")
    func securityHeaders() async throws {
        try await Self.withServer { port in
            for path in ["/", "/join", "/app/main.js", "/app/missing.js"] {
                let reply = try await Self.get(port, path)
                #expect(
                    reply.headers["Content-Security-Policy"] == [
                        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                            + "media-src 'self' blob:; connect-src 'self' wss://party.example; manifest-src 'self'; "
                            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
                    ], "\(path)")
                #expect(reply.headers["Referrer-Policy"] == ["no-referrer"], "\(path)")
                #expect(reply.headers["X-Content-Type-Options"] == ["nosniff"], "\(path)")
                #expect(reply.headers["Permissions-Policy"] == ["camera=(self), geolocation=(self), microphone=()"])
                #expect(reply.headers["X-Frame-Options"] == ["DENY"], "\(path)")
                #expect(reply.headers["Cross-Origin-Opener-Policy"] == ["same-origin"], "\(path)")
            }
        }
    }

    @Test("a file asked for again with its ETag is 304 with no body; a changed ETag gets the file")
    func revalidation() async throws {
        try await Self.withServer { port in
            let first = try await Self.get(port, "/app/main.js")
            let etag = try #require(first.headers["ETag"].first)
            #expect(etag.hasPrefix("\"") && !etag.hasPrefix("W/"), "a strong entity tag: \(etag)")
            #expect(first.headers["Cache-Control"] == ["no-cache"])
            let again = try await Self.get(port, "/app/main.js", headers: [("If-None-Match", etag)])
            #expect(again.status == 304 && again.body.isEmpty)
            let changed = try await Self.get(port, "/app/main.js", headers: [("If-None-Match", "\"other\"")])
            #expect(changed.status == 200 && changed.body == first.body)
        }
    }

    @Test("paths outside the site are 404: dot segments, encoded ones, unknown files, folders")
    func outsideTheSite() async throws {
        try await Self.withServer { port in
            for path in [
                "/app/../index.html", "/app/%2e%2e/index.html", "/app/", "/app", "/index.html", "/app/../../etc/passwd",
                "/app/main.js/x", "/join/x",
            ] {
                let reply = try await Self.get(port, path)
                #expect(reply.status == 404, "\(path): \(reply.status)")
            }
        }
    }

    @Test("the connect-src origin comes from the signalling URL; anything odd is left out")
    func connectOrigins() {
        #expect(WebPagePolicy(signallingURL: "ws://127.0.0.1:8080/v1/signal").connectOrigins == ["ws://127.0.0.1:8080"])
        #expect(WebPagePolicy(signallingURL: "WSS://Party.example/v1/signal").connectOrigins == ["wss://Party.example"])
        #expect(WebPagePolicy(signallingURL: "not a url").connectOrigins.isEmpty)
        #expect(WebPagePolicy(signallingURL: "wss://a.example;script-src *").connectOrigins.isEmpty)
        #expect(WebPagePolicy(signallingURL: "wss://user@a.example/").connectOrigins.isEmpty)
    }
}
