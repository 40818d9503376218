import Foundation
import PartyLineServer
import PartyLineTesting
import Testing

/// Signing keys made on first start into the data folder (0600), reused by the next start, and a lost key
/// refused loudly rather than replaced in silence.
extension WholeServerTests {
    @Suite("Signing keys in the data folder", .timeLimit(.minutes(1)))
    struct SigningKeysTests {
        static func withServer(folder: URL, replaceKeys: Bool = false, _ body: (Int) async throws -> Void) async throws
        {
            try await WholeServer.run(
                [
                    "--stun-listen-udp", "127.0.0.1:0", "--stun-listen-tcp", "", "--http-listen", "127.0.0.1:0",
                    "--signalling-api-keys", "keys", "--data-directory", folder.path,
                    "--coordinator-database-sqlite-path", folder.appendingPathComponent("partyline.sqlite").path,
                    "--log-level", "critical",
                ], configure: { $0.replaceKeys = replaceKeys }, body)
        }

        /// The key that signs a new session's evidence.
        static func evidenceKey(port: Int) async throws -> String {
            let created = try await HTTPTestCall.call(
                port: port, "POST", "/v1/sessions", body: #"{"members":["a","b","c"]}"#, bearer: "keys")
            let session = try #require(created.json["session"] as? String)
            let evidence = try await HTTPTestCall.call(
                port: port, "GET", "/v1/sessions/\(session)/evidence", bearer: "keys")
            return try #require(evidence.json["publicKey"] as? String)
        }

        @Test("made once with mode 0600 and reused; a missing key file stops the start, naming it")
        func madeReusedAndGuarded() async throws {
            let folder = WholeServer.folder("keys")
            defer { try? FileManager.default.removeItem(at: folder) }
            var first = ""
            try await Self.withServer(folder: folder) { first = try await Self.evidenceKey(port: $0) }
            let keys = folder.appendingPathComponent("keys")
            let files = try FileManager.default.contentsOfDirectory(atPath: keys.path).sorted()
            #expect(files == ["evidence-ed25519.key", "join-token.key", "login-session.key"])
            for file in files {
                let mode =
                    try FileManager.default.attributesOfItem(atPath: keys.appendingPathComponent(file).path)[
                        .posixPermissions] as? Int
                #expect(mode == 0o600, "\(file)")
            }
            var second = ""
            try await Self.withServer(folder: folder) { second = try await Self.evidenceKey(port: $0) }
            #expect(!first.isEmpty && first == second)

            let evidenceFile = keys.appendingPathComponent("evidence-ed25519.key")
            try FileManager.default.removeItem(at: evidenceFile)
            do {
                try await Self.withServer(folder: folder) { _ in Issue.record("started without its evidence key") }
                Issue.record("a lost key file went unnoticed")
            } catch {
                #expect("\(error)".contains(evidenceFile.path) && "\(error)".contains("missing"))
            }
            var replaced = ""
            try await Self.withServer(folder: folder, replaceKeys: true) {
                replaced = try await Self.evidenceKey(port: $0)
            }
            #expect(!replaced.isEmpty && replaced != first)
            var after = ""
            try await Self.withServer(folder: folder) { after = try await Self.evidenceKey(port: $0) }
            #expect(after == replaced)
        }
    }
}
