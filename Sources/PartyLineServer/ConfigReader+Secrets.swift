import Configuration
import Foundation
import RelayServer

extension ConfigReader {
    /// A secret under `key`, or read from the file named by `key` + `File` (`turn.secretsFile`), as operators
    /// keep secrets in mounted files (Docker and Kubernetes secrets) rather than in the environment. The
    /// file's trailing line break is dropped. Setting both is an error.
    func secret(_ key: String) throws -> String? {
        let direct = string(forKey: ConfigKey(key), isSecret: true)
        guard let text = try secretFile(key) else { return direct }
        guard direct == nil else { throw ConfigurationError("\(key) and \(key)File are both set: use one") }
        return text.trimmingCharacters(in: .newlines)
    }

    /// A list of secrets under `key` (comma-separated), or from the file named by `key` + `File`: one per line
    /// or comma-separated, blank lines skipped.
    func secretList(_ key: String) throws -> [String] {
        let direct = stringArray(forKey: ConfigKey(key), isSecret: true)
        let entries: [String]
        if let text = try secretFile(key) {
            guard direct == nil else { throw ConfigurationError("\(key) and \(key)File are both set: use one") }
            entries = text.split(whereSeparator: \.isNewline).map(String.init)
        } else {
            entries = direct ?? []
        }
        return entries.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// The file named by `key` + `File`. A key ending in capitals (`postgresURL`) would take the
    /// environment name `…_URLFILE`, so `…_URL_FILE` (the key `postgresURL-file`) is read too.
    private func secretFile(_ key: String) throws -> String? {
        let named = string(forKey: ConfigKey(key + "File")) ?? string(forKey: ConfigKey(key + "-file"))
        guard let path = named, !path.isEmpty else { return nil }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else { throw ConfigurationError("\(key)File: cannot read \(path)") }
        return text
    }
}
