import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Serves the party web page: `/` (the account and party page), `/join` (a session joined with a token from
/// the URL fragment, for external coordinators), and the files under `/app/`. Every answer carries the
/// page's security headers; nothing else of the site is reachable.
public enum WebPageRoutes {
    public static func add<Context: RequestContext>(
        to router: Router<Context>, site: WebSite, policy: WebPagePolicy
    ) {
        let headers = policy.headers()
        let serve: @Sendable (String, Request) -> Response = { path, request in
            guard let file = site.files[path] else { return Response(status: .notFound, headers: headers) }
            return response(for: file, request: request, headers: headers)
        }
        let file: @Sendable (Context) -> String = { "app/" + $0.parameters.getCatchAll().joined(separator: "/") }
        for (route, page) in [("/", "index.html"), ("/join", "join.html")] {
            router.get(RouterPath(route)) { request, _ in serve(page, request) }
            router.head(RouterPath(route)) { request, _ in serve(page, request).withoutBody() }
        }
        router.get("/app/**") { request, context in serve(file(context), request) }
        router.head("/app/**") { request, context in serve(file(context), request).withoutBody() }
    }

    static func response(for file: WebSite.File, request: Request, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = file.contentType
        fields[.eTag] = file.etag
        fields[.cacheControl] = "no-cache"
        if let presented = request.headers[.ifNoneMatch],
            presented.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == file.etag })
        {
            return Response(status: .notModified, headers: fields)
        }
        fields[.contentLength] = String(file.body.readableBytes)
        return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: file.body))
    }
}

extension Response {
    fileprivate func withoutBody() -> Response {
        Response(status: status, headers: headers)
    }
}
