import ClusterStore
import Logging
import RelayServer
import ServiceLifecycle

/// Applies the revocations other nodes publish to this node's relay, so a subject revoked anywhere in the
/// cluster is refused, and its allocations torn down, here too. Each one is logged at debug level with its
/// fan-out: from its publication on the other node to its allocations closed here.
struct RevocationFollower: Service {
    let feed: RevocationFeed
    let relay: RelayServer
    let nodeID: String
    /// The latest revocation before this node's relay started; nil when it could not be read.
    let start: Int64?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await feed.follow(after: start) { revocations in
                for revocation in revocations where revocation.origin != nodeID {
                    let started = ContinuousClock.now
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
}
