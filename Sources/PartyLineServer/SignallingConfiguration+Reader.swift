import Configuration
import RelayServer
import Signalling
import SignallingServer

extension SignallingConfiguration {
    /// Reads the `signalling.*` keys; `turnSecrets` are the relay's `turn.secrets`, and the public URL
    /// defaults to `defaultPublicURL` (the HTTP listener on 127.0.0.1). See `config/partyline.example.yaml`.
    init(reader: ConfigReader, turnSecrets: [String], defaultPublicURL: String) throws {
        let defaults = SignallingConfiguration()
        func list(_ key: ConfigKey, _ fallback: [String]) -> [String] {
            guard let values = reader.stringArray(forKey: key) else { return fallback }
            return values.flatMap { $0.split(separator: ",") }.map(String.init).filter { !$0.isEmpty }
        }
        func seconds(_ key: ConfigKey, _ fallback: Duration) throws -> Duration {
            let value = reader.int(forKey: key, default: Int(fallback.components.seconds))
            guard value > 0 else { throw ConfigurationError("\(key) must be a positive number of seconds") }
            return .seconds(value)
        }
        var session = GroupSessionConfiguration()
        session.turnDeadline = try seconds("signalling.turnDeadline", session.turnDeadline)
        session.noShowGrace = try seconds("signalling.noShowGrace", session.noShowGrace)
        session.reconnectGrace = try seconds("signalling.reconnectGrace", session.reconnectGrace)
        // Prompts are whole sentences: never split on commas.
        session.prompts = reader.stringArray(forKey: "signalling.prompts") ?? session.prompts
        guard !session.prompts.isEmpty else { throw ConfigurationError("signalling.prompts must not be empty") }
        var limits = SessionRoom.Limits()
        limits.messagesPerSecond = reader.double(
            forKey: "signalling.rateLimit.messagesPerSecond", default: limits.messagesPerSecond)
        limits.messageBurst = reader.int(forKey: "signalling.rateLimit.messageBurst", default: limits.messageBurst)
        limits.requestsPerSecond = reader.double(
            forKey: "signalling.rateLimit.requestsPerSecond", default: limits.requestsPerSecond)
        limits.requestBurst = reader.int(forKey: "signalling.rateLimit.requestBurst", default: limits.requestBurst)
        limits.connectsPerSecond = reader.double(
            forKey: "signalling.rateLimit.connectsPerSecond", default: limits.connectsPerSecond)
        limits.connectBurst = reader.int(forKey: "signalling.rateLimit.connectBurst", default: limits.connectBurst)
        self.init(
            apiKeys: try reader.secretList("signalling.apiKeys"),
            tokenSecret: try reader.secret("signalling.tokenSecret"),
            tokenLifetime: try seconds("signalling.tokenLifetime", defaults.tokenLifetime),
            publicURL: reader.string(forKey: "signalling.publicURL", default: defaultPublicURL),
            stunURLs: list("signalling.stunURLs", defaults.stunURLs),
            turnURLs: list("signalling.turnURLs", defaults.turnURLs),
            turnSecrets: turnSecrets,
            credentialLifetime: try seconds("signalling.credentialLifetime", defaults.credentialLifetime),
            session: session, limits: limits,
            joinWindow: try seconds("signalling.joinWindow", defaults.joinWindow),
            heartbeat: try seconds("signalling.heartbeat", defaults.heartbeat),
            retention: try seconds("signalling.retention", defaults.retention),
            maximumSessions: reader.int(forKey: "signalling.maximumSessions", default: defaults.maximumSessions))
        outboundQueueLimit = reader.int(forKey: "signalling.outboundQueueLimit", default: defaults.outboundQueueLimit)
        guard outboundQueueLimit >= 16 else {
            throw ConfigurationError("signalling.outboundQueueLimit must be at least 16")
        }
        joinTimeout = try seconds("signalling.joinTimeout", defaults.joinTimeout)
        callbackSecret = try reader.secret("signalling.callback.secret")
        callbackAttempts = reader.int(forKey: "signalling.callback.attempts", default: defaults.callbackAttempts)
        callbackInitialBackoff = try seconds("signalling.callback.initialBackoff", defaults.callbackInitialBackoff)
        guard callbackAttempts >= 1 else { throw ConfigurationError("signalling.callback.attempts must be at least 1") }
    }
}
