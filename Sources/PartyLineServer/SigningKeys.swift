import Crypto
import Foundation
import Logging
import RelayServer
import Shared
import Signalling

/// The keys the process signs with, when the configuration does not give them: the join-token secret,
/// the login-session secret and the evidence key. Each is made on first start into a file of the data
/// folder (`data.directory`, `keys/…`, mode 0600) and read again at every start, so tokens and signed
/// evidence stay valid across restarts. The database records each key's fingerprint: a key file that is
/// missing or different while the database knows another key is an error naming the file, not a silent new
/// key (`keys.replace` makes new keys on purpose).
struct SigningKeys {
    var joinTokenSecret: String
    var loginSecret: String
    var evidenceKey: Curve25519.Signing.PrivateKey

    /// Where fingerprints are kept and read: the coordinator's `server_keys`.
    struct Fingerprints {
        let recorded: (_ name: String, _ candidate: String) async throws -> String
        let replace: (_ name: String, _ value: String) async throws -> Void
    }

    /// A key that does not match what the database recorded.
    struct MismatchError: Error, CustomStringConvertible {
        let file: String
        let missing: Bool
        var description: String {
            (missing
                ? "the key file \(file) is missing, but the database recorded a key made before"
                : "the key file \(file) holds another key than the one the database recorded")
                + ": tokens, sessions or evidence signed with the old key would no longer verify. Restore the "
                + "file from a backup, or start once with --keys-replace to record the keys on disk (making "
                + "missing ones) as the keys from now on."
        }
    }

    static func load(
        folder: String, configuredTokenSecret: String?, configuredLoginSecret: String?, replace: Bool,
        fingerprints: Fingerprints, logger: Logger
    ) async throws -> SigningKeys {
        let keys = URL(fileURLWithPath: folder).appendingPathComponent("keys")
        func key(_ name: String) async throws -> [UInt8] {
            let file = keys.appendingPathComponent("\(name).key")
            var bytes = try read(file, logger: logger)
            var made = false
            if bytes == nil {
                // Another process starting on the same folder may make it first: whichever file is there wins.
                made = try makeExclusively(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }, at: file)
                bytes = try read(file, logger: logger)
            }
            guard let bytes else { throw ConfigurationError("cannot read the key file \(file.path)") }
            let fingerprint = Hex.encode(SHA256.hash(data: bytes).prefix(16))
            do {
                if replace {
                    try await fingerprints.replace("fingerprint/\(name)", fingerprint)
                } else if try await fingerprints.recorded("fingerprint/\(name)", fingerprint) != fingerprint {
                    throw MismatchError(file: file.path, missing: made)
                }
            } catch {
                // A key made just now must not stand in for a lost one, nor outlive a check that failed: take
                // it away again, so the old one can be restored.
                if made { try? FileManager.default.removeItem(at: file) }
                throw error
            }
            if made {
                logger.notice("signing key made", metadata: ["file": "\(file.path)", "fingerprint": "\(fingerprint)"])
            }
            return bytes
        }
        var token = configuredTokenSecret
        if token == nil { token = Base64URL.encode(try await key("join-token")) }
        var login = configuredLoginSecret
        if login == nil { login = Base64URL.encode(try await key("login-session")) }
        let evidence = try Curve25519.Signing.PrivateKey(rawRepresentation: try await key("evidence-ed25519"))
        return SigningKeys(joinTokenSecret: token!, loginSecret: login!, evidenceKey: evidence)
    }

    /// The keys of a node of a cluster: every node must sign and verify with the same ones, so they live in
    /// the shared database (`server_keys`, made by the first node that asks) rather than in one node's files.
    /// Configured secrets still win.
    static func shared(
        configuredTokenSecret: String?, configuredLoginSecret: String?,
        stored: (_ name: String, _ candidate: String) async throws -> String
    ) async throws -> SigningKeys {
        func key(_ name: String) async throws -> [UInt8] {
            let candidate = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
            let text = try await stored("cluster/\(name)", candidate)
            guard let data = Data(base64Encoded: text), data.count == 32 else {
                throw ConfigurationError("the cluster's stored key \(name) is not 32 bytes in base64")
            }
            return Array(data)
        }
        let token: String
        if let configuredTokenSecret {
            token = configuredTokenSecret
        } else {
            token = Base64URL.encode(try await key("join-token"))
        }
        let login: String
        if let configuredLoginSecret {
            login = configuredLoginSecret
        } else {
            login = Base64URL.encode(try await key("login-session"))
        }
        let evidence = try Curve25519.Signing.PrivateKey(rawRepresentation: try await key("evidence-ed25519"))
        return SigningKeys(joinTokenSecret: token, loginSecret: login, evidenceKey: evidence)
    }

    /// The key's bytes, or nil when the file does not exist. A file others can read is made private.
    private static func read(_ file: URL, logger: Logger) throws -> [UInt8]? {
        let manager = FileManager.default
        guard manager.fileExists(atPath: file.path) else { return nil }
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: text), data.count == 32 else {
            throw ConfigurationError("the key file \(file.path) is not 32 bytes in base64")
        }
        // The file itself, not a symlink to it (a mounted secret is one): its mode is the target's.
        let target = file.resolvingSymlinksInPath().path
        if let mode = (try? manager.attributesOfItem(atPath: target))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            do {
                try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: target)
                logger.warning("key file readable by others; made private (0600)", metadata: ["file": "\(target)"])
            } catch {
                logger.warning(
                    "key file readable by others (read-only here: fix its mode)", metadata: ["file": "\(target)"])
            }
        }
        return Array(data)
    }

    /// Writes the key with mode 0600 from the start (made private, then linked into place); false when the
    /// file appeared meanwhile.
    private static func makeExclusively(_ bytes: [UInt8], at file: URL) throws -> Bool {
        let manager = FileManager.default
        try manager.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let temporary = file.appendingPathExtension("\(UUID().uuidString).new")
        guard
            manager.createFile(
                atPath: temporary.path, contents: Data((Data(bytes).base64EncodedString() + "\n").utf8),
                attributes: [.posixPermissions: 0o600])
        else { throw ConfigurationError("cannot write the key file \(file.path)") }
        defer { try? manager.removeItem(at: temporary) }
        guard link(temporary.path, file.path) == 0 else {
            if errno == EEXIST { return false }
            throw ConfigurationError("cannot write the key file \(file.path): errno \(errno)")
        }
        return true
    }
}
