import Configuration
import Foundation
import NIOConcurrencyHelpers
import RelayServer
import Yams

/// Finds settings nobody reads: a misspelled flag (`--turn-relay-port`) or file key (`turn.relays`) would
/// otherwise be ignored without a word. Flags and file keys that no key of the configuration model matches
/// are an error naming them; `PARTYLINE_*` environment variables are only warned about, since an
/// environment is shared with other programs.
enum UnknownSettings {
    /// Collects the key of every configuration read, so the known set is what the model reads, and where
    /// each set value came from (secrets masked by swift-configuration).
    final class KnownKeys: AccessReporter, Sendable {
        /// A key a source set: its value as text (masked when secret) and the source.
        struct Setting: Sendable, Hashable {
            let value: String
            let source: String
        }

        private let keys = NIOLockedValueBox<Set<String>>([])
        private let settings = NIOLockedValueBox<[String: Setting]>([:])

        func report(_ event: AccessEvent) {
            let key = event.metadata.key.components.joined(separator: ".")
            keys.withLockedValue { _ = $0.insert(key) }
            guard
                let found = event.providerResults.first(where: {
                    if case .success(let lookup) = $0.result { lookup.value != nil } else { false }
                }), case .success(let lookup) = found.result, let value = lookup.value
            else { return }
            settings.withLockedValue {
                $0[key] = Setting(value: Self.text(value), source: Self.source(found.providerName))
            }
        }

        var all: Set<String> { keys.withLockedValue { $0 } }

        /// Every key that a flag, the environment or the file set, sorted.
        var set: [(key: String, setting: Setting)] {
            settings.withLockedValue { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
        }

        /// `flag`, `environment` or `file` for swift-configuration's provider names.
        static func source(_ provider: String) -> String {
            if provider.contains("CommandLine") { return "flag" }
            if provider.contains("Environment") { return "environment" }
            if provider.contains("File") { return "file" }
            return provider
        }

        /// `[string: x]` (swift-configuration's description, `<REDACTED>` for secrets) as `x`.
        static func text(_ value: ConfigValue) -> String {
            let description = value.description
            guard description.hasPrefix("["), description.hasSuffix("]"),
                let colon = description.firstIndex(of: ":")
            else { return description }
            return String(
                description[description.index(colon, offsetBy: 2)..<description.index(before: description.endIndex)])
        }
    }

    /// Flags (`--key value` or `--key=value`) that match no known key.
    static func unknownFlags(_ flags: [String], known: Set<String>) -> [String] {
        let names = Set(known.map(flagName))
        return flags.compactMap { argument -> String? in
            guard argument.hasPrefix("--") else { return nil }
            let name = String(argument.split(separator: "=", maxSplits: 1)[0])
            return names.contains(name) ? nil : name
        }
    }

    /// Keys of a YAML file (leaves of nested mappings, dotted) that match no known key.
    static func unknownFileKeys(yaml: String, known: Set<String>) throws -> [String] {
        guard let document = try Yams.load(yaml: yaml) else { return [] }
        guard let root = document as? [String: Any] else {
            throw ConfigurationError("the configuration file must be a mapping of keys")
        }
        var unknown: [String] = []
        func visit(_ node: [String: Any], prefix: String) {
            for (name, value) in node {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if known.contains(key) { continue }
                let isSection = known.contains { $0.hasPrefix(key + ".") }
                if isSection, let child = value as? [String: Any] {
                    visit(child, prefix: key)
                } else if !isSection || !(value is NSNull) {
                    // A section whose keys are all commented out is empty (null); anything else is unknown.
                    unknown.append(key)
                }
            }
        }
        visit(root, prefix: "")
        return unknown.sorted()
    }

    /// `PARTYLINE_*` environment variables that match no known key (`PARTYLINE_CONFIG` names the file).
    static func unknownEnvironment(_ environment: [String: String], known: Set<String>) -> [String] {
        let names = Set(known.map(environmentName)).union(["PARTYLINE_CONFIG"])
        return environment.keys.filter { $0.hasPrefix("PARTYLINE_") && !names.contains($0) }.sorted()
    }

    /// `turn.relay.ports` → `--turn-relay-ports`; `stun.udp.socketsPerAddress` → `--stun-udp-sockets-per-address`.
    static func flagName(_ key: String) -> String {
        "--" + words(key).joined(separator: "-").lowercased()
    }

    /// `stun.udp.socketsPerAddress` → `PARTYLINE_STUN_UDP_SOCKETS_PER_ADDRESS`.
    static func environmentName(_ key: String) -> String {
        "PARTYLINE_" + words(key).joined(separator: "_").uppercased()
    }

    /// A key's words as swift-configuration encodes them: components, split where a lowercase letter is
    /// followed by an uppercase one (`publicURL` → `public`, `URL`).
    private static func words(_ key: String) -> [String] {
        key.split(separator: ".").flatMap { component -> [String] in
            var words: [String] = []
            var current = ""
            for character in component {
                if character.isUppercase, current.last?.isLowercase == true {
                    words.append(current)
                    current = ""
                }
                current.append(character)
            }
            if !current.isEmpty { words.append(current) }
            return words
        }
    }
}
