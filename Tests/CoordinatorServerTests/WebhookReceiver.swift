import Callbacks
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import Testing

/// An HTTP endpoint on 127.0.0.1 that collects webhooks whose signature verifies.
struct WebhookReceiver: Sendable {
    static let secret = "webhook secret"
    let url: String
    let received: NIOLockedValueBox<[Data]>

    static func withRunning(_ body: (WebhookReceiver) async throws -> Void) async throws {
        let received = NIOLockedValueBox<[Data]>([])
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let signature = request.headers[values: .init(CallbackSignature.header)!].first ?? ""
            if CallbackSignature.verify(
                header: signature, body: Array(bytes.readableBytesView), secret: secret,
                now: Int64(Date().timeIntervalSince1970))
            {
                received.withLockedValue { $0.append(Data(bytes.readableBytesView)) }
            }
            // No keep-alive: the receiver's shutdown at the test's end never waits on an idle connection.
            return Response(status: .ok, headers: [.connection: "close"])
        }
        let (ports, reportPort) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { reportPort.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "test.webhooks"))
        try await withThrowingTaskGroup { group in
            group.addTask { try await app.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body(WebhookReceiver(url: "http://127.0.0.1:\(port)/hook", received: received))
        }
    }

    /// The first `count` verified bodies, waiting up to five seconds for them.
    func bodies(count: Int) async throws -> [[String: Any]] {
        for _ in 0..<100 where received.withLockedValue({ $0.count }) < count {
            try await Task.sleep(for: .milliseconds(50))
        }
        return received.withLockedValue { $0 }.compactMap {
            try? JSONSerialization.jsonObject(with: $0) as? [String: Any]
        }
    }
}
