import Configuration
import RelayServer
import TURN

extension ConfigReader {
    /// Addresses and prefixes under `key` (`10.0.0.0/8`, `::1`), comma-separated or a list; nil when unset.
    func networks(_ key: ConfigKey) throws -> [IPNetwork]? {
        guard let texts = stringArray(forKey: key) else { return nil }
        return try texts.flatMap { $0.split(separator: ",") }.map { String($0).trimmingWhitespace }
            .filter { !$0.isEmpty }.map { text in
                guard let network = IPNetwork(parsing: text) else {
                    throw ConfigurationError("\(key): '\(text)' is not an address or prefix")
                }
                return network
            }
    }
}
