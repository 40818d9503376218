import AsyncHTTPClient
import Cluster
import ClusterStore
import Foundation
import HTTPHost
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// The coordinator's API on every node of a cluster: the node holding the coordinator answers itself; the
/// others forward each request to it unchanged (method, path, query, headers, body) and stream its answer
/// back, so a write is acknowledged only once the holder has committed it. While no node holds the
/// coordinator (a take-over under way), or the one named cannot be reached, the answer is 503
/// `coordinator-unavailable` with `Retry-After: 1`: the request reached no coordinator, and sending it again is
/// safe. If the holder fails after the request was sent, the answer is 502 `coordinator-lost`: it may or may
/// not have been applied, so read before sending it again.
///
/// A forwarded request carries the cluster's key and the client's address (`PartyLine-Cluster-Key`,
/// `PartyLine-Client-Address`): the holder counts the client, not the forwarding node, against the login
/// rate limit, and never forwards such a request again.
struct CoordinatorForwarding: RouterMiddleware {
    typealias Context = HostRequestContext

    static let clusterKeyField = HTTPField.Name("PartyLine-Cluster-Key")!
    static let clientAddressField = HTTPField.Name("PartyLine-Client-Address")!
    /// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host",
    ]

    let isHolding: @Sendable () -> Bool
    let nodes: ClusterDirectory
    let selfID: String
    let clusterKey: BearerKeys
    let clusterKeyValue: String

    init(isHolding: @escaping @Sendable () -> Bool, nodes: ClusterDirectory, selfID: String, clusterKey: String) {
        self.isHolding = isHolding
        self.nodes = nodes
        self.selfID = selfID
        self.clusterKey = BearerKeys([clusterKey])
        clusterKeyValue = clusterKey
    }

    func handle(
        _ request: Request, context: HostRequestContext,
        next: (Request, HostRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let forwarded = request.headers[Self.clusterKeyField].map { clusterKey.contains($0) } ?? false
        if forwarded, let client = request.headers[Self.clientAddressField],
            let address = try? SocketAddress(ipAddress: client, port: 0)
        {
            context.remoteAddress = address
        }
        if isHolding() { return try await next(request, context) }
        guard !forwarded else { return Self.unavailable }
        let body = try await request.body.collect(upTo: JSONRequest.maximumBody)
        var holder = await nodes.holder()
        for attempt in 0..<2 {
            guard let target = holder, target.id != selfID else { return Self.unavailable }
            do {
                return try await forward(request, body: body, to: target, client: context.remoteAddress)
            } catch let failure where ClusterHTTP.neverConnected(failure) {
                // The holder named a moment ago may have died: read the table again once.
                guard attempt == 0 else { break }
                holder = await nodes.holder(fresh: true)
            } catch {
                return Self.lost
            }
        }
        return Self.unavailable
    }

    private func forward(
        _ request: Request, body: ByteBuffer, to holder: NodeRecord, client: SocketAddress?
    ) async throws -> Response {
        var outgoing = HTTPClientRequest(url: holder.httpURL + (request.head.path ?? "/"))
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers where !Self.hopByHop.contains(field.name.canonicalName) {
            guard field.name != Self.clusterKeyField, field.name != Self.clientAddressField else { continue }
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        outgoing.headers.add(name: Self.clusterKeyField.rawName, value: clusterKeyValue)
        if let ip = client?.ipAddress { outgoing.headers.add(name: Self.clientAddressField.rawName, value: ip) }
        if body.readableBytes > 0 || request.method == .post || request.method == .put {
            outgoing.body = .bytes(body)
        }
        let answer = try await ClusterHTTP.client.execute(outgoing, timeout: .seconds(30))
        var headers = HTTPFields()
        for header in answer.headers where !Self.hopByHop.contains(header.name.lowercased()) {
            guard let name = HTTPField.Name(header.name) else { continue }
            headers.append(HTTPField(name: name, value: header.value))
        }
        return Response(
            status: HTTPResponse.Status(code: Int(answer.status.code)), headers: headers,
            body: ResponseBody(asyncSequence: answer.body))
    }

    static var unavailable: Response {
        var response = JSONResponse.make(
            status: .serviceUnavailable,
            [
                "code": "coordinator-unavailable",
                "message": "no node of the cluster holds the coordinator right now; retry in a moment",
            ])
        response.headers[.retryAfter] = "1"
        return response
    }

    static var lost: Response {
        JSONResponse.make(
            status: .badGateway,
            [
                "code": "coordinator-lost",
                "message": "the coordinator failed while answering; the request may have been applied",
            ])
    }
}
