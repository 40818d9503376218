import HTTPHost
import HTTPTypes
import Hummingbird

/// A refusal for want of storage is the API's 503 with `Retry-After: 1`: `storage-unavailable` when the
/// database went away (the state is reloaded; nothing unacknowledged stands), `coordinator-unavailable` on
/// a node of a cluster that does not hold the coordinator (docs/api.md).
extension LiveCoordinator.StorageUnavailable: HTTPResponseError {
    public var status: HTTPResponse.Status { .serviceUnavailable }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let code = reason == LiveCoordinator.notHeld.reason ? "coordinator-unavailable" : "storage-unavailable"
        var response = try APIError(.serviceUnavailable, code, "storage is unavailable; retry in a moment")
            .response(from: request, context: context)
        response.headers[.retryAfter] = "1"
        return response
    }
}
