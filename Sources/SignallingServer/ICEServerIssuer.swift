import Foundation
import TURN

/// Builds `iceServers` lists: STUN for everyone, TURN with REST credentials scoped to one subject
/// (`session/turn/member`), so revoking the subject's prefix stops that turn's media at the relay.
struct ICEServerIssuer: Sendable {
    let stunURLs: [String]
    let turnURLs: [String]
    let secrets: TURNRESTSecrets?
    let lifetime: UInt64

    init(configuration: SignallingConfiguration) {
        stunURLs = configuration.stunURLs
        turnURLs = configuration.turnURLs
        secrets = TURNRESTSecrets(configuration.turnSecrets)
        lifetime = UInt64(configuration.credentialLifetime.components.seconds)
    }

    func servers(subject: String?) -> [ICEServer] {
        var servers = stunURLs.isEmpty ? [] : [ICEServer(urls: stunURLs, credential: nil)]
        if let subject, let secrets, !turnURLs.isEmpty {
            let now = UInt64(max(0, Date().timeIntervalSince1970))
            let credential = secrets.mint(subject: subject, ttl: lifetime, now: now)
            servers.append(ICEServer(urls: turnURLs, credential: credential))
        }
        return servers
    }
}
