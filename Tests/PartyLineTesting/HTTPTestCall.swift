import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP request to a server under test on 127.0.0.1: the status and the body as a JSON value.
public enum HTTPTestCall {
    public struct Reply: @unchecked Sendable {
        public let status: Int
        /// The decoded JSON body (an object, an array, or nil when the body is not JSON).
        public let body: Any?
        /// The body as text.
        public let text: String
        /// Response headers by lower-cased name (the last value of a repeated one).
        public var headers: [String: String] = [:]
        /// The body as a JSON object, or empty.
        public var json: [String: Any] { body as? [String: Any] ?? [:] }
    }

    public static func call(
        port: Int, _ method: String, _ path: String, body: String? = nil, bearer: String? = nil
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = HTTPMethod(rawValue: method)
        // No idle keep-alive connection outlives the call: a server cancelled at a test's end could otherwise
        // race Hummingbird's connection quiescing and never finish shutting down.
        request.headers.add(name: "Connection", value: "close")
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        let value = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView), options: [.fragmentsAllowed])
        var reply = Reply(status: Int(response.status.code), body: value, text: String(buffer: bytes))
        for header in response.headers { reply.headers[header.name.lowercased()] = header.value }
        return reply
    }
}
