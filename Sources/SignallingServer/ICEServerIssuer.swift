import Foundation
import Shared
import TURN

/// Builds `iceServers` lists: STUN for everyone, TURN with REST credentials scoped to one subject
/// (`session/turn/pseudonym`), so revoking the subject's prefix stops that turn's media at the relay.
struct ICEServerIssuer: Sendable {
    let stunURLs: [String]
    let turnURLs: [String]
    let secrets: TURNRESTSecrets?

    init(configuration: SignallingConfiguration) {
        stunURLs = configuration.stunURLs
        turnURLs = configuration.turnURLs
        secrets = TURNRESTSecrets(configuration.turnSecrets)
    }

    /// STUN entries, plus a TURN entry with a credential for `subject` valid for `lifetime`.
    func servers(subject: String?, lifetime: Duration) -> [ICEServer] {
        var servers = stunURLs.isEmpty ? [] : [ICEServer(urls: stunURLs, credential: nil)]
        if let subject, let secrets, !turnURLs.isEmpty {
            let now = UInt64(max(0, Date().timeIntervalSince1970))
            let credential = secrets.mint(
                subject: subject, ttl: UInt64(max(1, lifetime.components.seconds)), now: now)
            servers.append(ICEServer(urls: turnURLs, credential: credential))
        }
        return servers
    }
}
