import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Delivers a signed JSON POST (a session's result to its callback URL, or a coordinator webhook), retried
/// with exponential backoff until a 2xx answer or the attempts run out.
public struct CallbackDelivery: Sendable {
    let secret: String
    let attempts: Int
    let initialBackoff: Duration
    let logger: Logger

    public init(secret: String, attempts: Int, initialBackoff: Duration, logger: Logger) {
        self.secret = secret
        self.attempts = attempts
        self.initialBackoff = initialBackoff
        self.logger = logger
    }

    /// The wait before each retry: `initialBackoff`, doubling, at most five minutes.
    func backoff(afterAttempt attempt: Int) -> Duration {
        min(initialBackoff * (1 << min(attempt - 1, 20)), .seconds(300))
    }

    /// Posts `body` to `url`; returns whether it was accepted.
    @discardableResult
    public func deliver(_ body: Data, to url: String) async -> Bool {
        for attempt in 1...max(1, attempts) {
            if await post(body, to: url) { return true }
            guard attempt < attempts else { break }
            try? await Task.sleep(for: backoff(afterAttempt: attempt))
        }
        logger.warning(
            "callback not delivered", metadata: ["url": "\(Self.withoutQuery(url))", "attempts": "\(attempts)"])
        return false
    }

    private func post(_ body: Data, to url: String) async -> Bool {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let timestamp = Int64(Date().timeIntervalSince1970)
        request.headers.add(
            name: CallbackSignature.header,
            value: CallbackSignature.sign(body: body, timestamp: timestamp, secret: secret))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (200..<300).contains(response.status.code)
        } catch {
            logger.debug(
                "callback attempt failed", metadata: ["url": "\(Self.withoutQuery(url))", "error": "\(error)"])
            return false
        }
    }

    /// A callback URL as logs show it: a query or fragment may carry the coordinator's token.
    static func withoutQuery(_ url: String) -> String {
        String(url.prefix { $0 != "?" && $0 != "#" })
    }
}
