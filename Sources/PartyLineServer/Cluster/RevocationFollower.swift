import ClusterStore
import Logging
import RelayServer
import ServiceLifecycle

/// Applies the revocations other nodes publish to this node's relay, so a subject revoked anywhere in the
/// cluster is refused, and its allocations torn down, here too; at start it applies every one kept (the last
/// day's), so credentials revoked before the node started are refused as well. Each one published while it
/// runs is logged at debug level with its fan-out: from its publication on the other node to its
/// allocations closed here.
struct RevocationFollower: Service {
    let feed: RevocationFeed
    let relay: RelayServer
    let nodeID: String
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await feed.follow { revocations in
                let foreign = revocations.filter { $0.origin != nodeID }
                guard !foreign.isEmpty else { return }
                let started = ContinuousClock.now
                if foreign.count > 1 {
                    let closed = await relay.revoke(subjectPrefixes: foreign.map(\.subjectPrefix))
                    logger.debug(
                        "revocations applied",
                        metadata: ["count": "\(foreign.count)", "allocationsClosed": "\(closed)"])
                    return
                }
                let revocation = foreign[0]
                let closed = await relay.revoke(subjectPrefix: revocation.subjectPrefix)
                let applying = (ContinuousClock.now - started) / .microseconds(1)
                logger.debug(
                    "revocation applied",
                    metadata: [
                        "subjectPrefix": "\(revocation.subjectPrefix)", "origin": "\(revocation.origin)",
                        "allocationsClosed": "\(closed)",
                        "fanoutMicroseconds": "\(revocation.ageMicroseconds + Int64(applying))",
                    ])
            }
        }
    }
}
