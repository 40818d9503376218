import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Bearer keys configured for an API, compared by SHA-256 digest so a comparison leaks nothing useful about
/// a key's prefix.
package struct BearerKeys: Sendable {
    private let digests: [SHA256.Digest]

    package init(_ keys: [String]) { digests = keys.map { SHA256.hash(data: Array($0.utf8)) } }

    package var isEmpty: Bool { digests.isEmpty }

    /// Whether `key` is one of the configured keys.
    package func contains(_ key: some StringProtocol) -> Bool {
        let presented = SHA256.hash(data: Array(key.utf8))
        return digests.contains { $0 == presented }
    }

    /// Refuses a request that does not present one of these keys: 401 `unauthorized` with `message`.
    package func authorize(_ request: Request, _ message: String = "an admin key is required") throws(APIError) {
        guard let key = Self.presented(in: request), contains(key) else {
            throw APIError(.unauthorized, "unauthorized", message)
        }
    }

    /// The request's `Authorization: Bearer` value, if any. The scheme is case-insensitive (RFC 9110
    /// §11.1) and may be followed by more than one space.
    package static func presented(in request: Request) -> Substring? {
        guard let header = request.headers[.authorization] else { return nil }
        return credentials(in: header)
    }

    /// The token of a `Bearer` credential (`bearer  abc` too), or nil for another scheme or no token.
    package static func credentials(in header: String) -> Substring? {
        let scheme = header.prefix { $0 != " " }
        guard scheme.lowercased() == "bearer" else { return nil }
        let token = header.dropFirst(scheme.count).drop { $0 == " " }
        return token.isEmpty ? nil : token
    }
}

/// Request bodies as JSON values, with the API's errors for too-large and undecodable bodies.
package enum JSONRequest {
    /// Largest request body the APIs read.
    package static let maximumBody = 64 * 1024

    package static func decode<Value: Decodable>(_ type: Value.Type, from request: Request) async throws(APIError)
        -> Value
    {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maximumBody)
        } catch {
            throw APIError(.contentTooLarge, "body-too-large", "the body is over \(maximumBody) bytes")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError(.badRequest, "invalid-json", "the body is not a valid \(Value.self)")
        }
    }
}

/// An API failure: an HTTP status and a JSON body `{"code": ..., "message": ...}`.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(status: status, ["code": code, "message": message])
    }

    /// 401 for a missing or unknown API key.
    package static let unauthorized = APIError(.unauthorized, "unauthorized", "a valid API key is required")
}

/// JSON response bodies.
package enum JSONResponse {
    package static func make(status: HTTPResponse.Status = .ok, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
