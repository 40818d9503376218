import Configuration
import HTTPHost
import RelayServer
import SignallingServer

extension ConfigReader {
    /// A positive number of seconds under `key`, or `fallback`.
    func seconds(_ key: ConfigKey, _ fallback: Duration) throws -> Duration {
        let value = double(forKey: key, default: Double(fallback.components.seconds))
        guard value > 0 else { throw ConfigurationError("\(key) must be a positive number of seconds") }
        return .milliseconds(Int64(value * 1000))
    }

    /// A count under `key` that may not be negative (0 usually means "no cap" or "automatic").
    func count(_ key: ConfigKey, _ fallback: Int) throws -> Int {
        let value = int(forKey: key, default: fallback)
        guard value >= 0 else { throw ConfigurationError("\(key) must not be negative") }
        return value
    }
}

extension StreamLimits {
    /// Reads the `stun.stream.*` keys. See `config/partyline.example.yaml`.
    init(reader: ConfigReader) throws {
        let defaults = StreamLimits()
        self.init(
            maxConnections: try reader.count("stun.stream.maxConnections", defaults.maxConnections),
            maxConnectionsPerAddress: try reader.count(
                "stun.stream.maxConnectionsPerAddress", defaults.maxConnectionsPerAddress),
            firstMessageTimeout: try reader.seconds("stun.stream.firstMessageTimeout", defaults.firstMessageTimeout),
            idleTimeout: try reader.seconds("stun.stream.idleTimeout", defaults.idleTimeout),
            outboundBufferBytes: try reader.count("stun.stream.outboundBufferBytes", defaults.outboundBufferBytes))
        guard outboundBufferBytes >= 4096 else {
            throw ConfigurationError("stun.stream.outboundBufferBytes must be at least 4096")
        }
    }
}

extension HTTPConnectionLimits {
    /// Reads the `http.*` connection keys. See `config/partyline.example.yaml`.
    init(reader: ConfigReader) throws {
        let defaults = HTTPConnectionLimits()
        self.init(
            maxConnections: try reader.count("http.maxConnections", defaults.maxConnections),
            maxConnectionsPerAddress: try reader.count(
                "http.maxConnectionsPerAddress", defaults.maxConnectionsPerAddress),
            requestHeadTimeout: try reader.seconds("http.requestHeadTimeout", defaults.requestHeadTimeout))
    }
}
