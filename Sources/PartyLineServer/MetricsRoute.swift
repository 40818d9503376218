import HTTPHost
import HTTPTypes
import Hummingbird
import NIOCore
import STUN
import TURN

/// `GET /metrics`, Prometheus text format 0.0.4, for clients in the allowed networks only: others get the
/// 404 any unknown path gets.
enum MetricsRoute {
    static func add(to router: Router<HostRequestContext>, exporter: MetricsExporter, allowed: [IPNetwork]) {
        router.get("/metrics") { _, context -> Response in
            guard let ip = context.remoteAddress.flatMap(TransportAddress.init)?.ip,
                allowed.contains(where: { $0.contains(ip) })
            else { throw HTTPError(.notFound) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: await exporter.scrape())))
        }
    }
}
