import Crypto
import Foundation
import Shared
import Signalling
import Testing

/// docs/signalling.md's worked evidence example is a real log: rebuilt here entry by entry with the
/// documented construction, signed with the example's key, it is byte for byte what the document shows,
/// and it verifies as published.
@Suite("docs/signalling.md evidence example")
struct DocumentedEvidenceTests {
    /// The example's signing key (a test key: 32 bytes 0x01…0x20).
    static let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: (1...32).map { UInt8($0) })

    /// The example's entries, as the server records them for a session of three in which only `acct-17`
    /// (pseudonym calm-otter-42) proves.
    static let recorded: [(time: UInt64, kind: String, detail: String)] = [
        (1_767_866_400_120, "join", "member=acct-17 resumed=false"),
        (1_767_866_401_002, "join", "member=acct-4 resumed=false"),
        (1_767_866_401_950, "join", "member=acct-99 resumed=false"),
        (1_767_866_401_951, "turn-start", "turn=0 prover=acct-17 verifiers=acct-4,acct-99 prompt=show the sky"),
        (1_767_866_431_207, "vote", "turn=0 verifier=acct-4 vote=approve"),
        (1_767_866_433_880, "vote", "turn=0 verifier=acct-99 vote=approve"),
        (1_767_866_433_880, "stream-stop", "turn=0 prover=acct-17"),
        (
            1_767_866_433_881, "decision",
            "turn=0 prover=acct-17 outcome=approved approvals=2 denials=0 threshold=2"
        ),
        (1_767_866_433_882, "finished", "results=calm-otter-42=approved"),
    ]

    static func documented() throws -> String {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/signalling.md").standardizedFileURL
        let text = try String(contentsOf: path, encoding: .utf8)
        let block = text.components(separatedBy: "```json\n").first { $0.hasPrefix(#"{"entries""#) }
        return try #require(block?.components(separatedBy: "\n```").first)
    }

    @Test("the documented log and head are the construction's output, and verify")
    func example() throws {
        var log = EvidenceLog()
        for entry in Self.recorded { log.append(kind: entry.kind, detail: entry.detail, time: entry.time) }
        let built = PublishedEvidence(
            entries: log.entries, signedHead: try log.signHead(with: Self.key),
            publicKey: Hex.encode(Self.key.publicKey.rawRepresentation))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = try Self.documented()
        let documented = try JSONDecoder().decode(PublishedEvidence.self, from: Data(text.utf8))
        let expected = String(decoding: try encoder.encode(built), as: UTF8.self)
        #expect(documented == built, "the document should show:\n\(expected)")
        #expect(throws: Never.self) { try documented.verify() }
    }

    @Test("a changed, dropped or reordered entry, another head or another key fails with its reason")
    func tampered() throws {
        let published = try JSONDecoder().decode(PublishedEvidence.self, from: Data(try Self.documented().utf8))
        var entries = published.entries
        let changed = EvidenceLog.Entry(
            index: 4, time: entries[4].time, kind: "vote", detail: "turn=0 verifier=acct-4 vote=deny",
            previous: entries[4].previous, hash: entries[4].hash)
        entries[4] = changed
        #expect(throws: PublishedEvidence.Failure.brokenChain(index: 4)) {
            try PublishedEvidence(entries: entries, signedHead: published.signedHead, publicKey: published.publicKey)
                .verify()
        }
        #expect(throws: PublishedEvidence.Failure.headMismatch) {
            try PublishedEvidence(
                entries: Array(published.entries.dropLast()), signedHead: published.signedHead,
                publicKey: published.publicKey
            ).verify()
        }
        #expect(throws: PublishedEvidence.Failure.unsigned) {
            try PublishedEvidence(entries: published.entries, signedHead: nil, publicKey: published.publicKey).verify()
        }
        let other = Hex.encode(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
        #expect(throws: PublishedEvidence.Failure.invalidSignature) {
            try PublishedEvidence(entries: published.entries, signedHead: published.signedHead, publicKey: other)
                .verify()
        }
    }
}

/// The documented `GET /v1/sessions/{id}` answer decodes as the summary the server encodes, with exactly the
/// documented fields, and its head is the evidence example's.
@Suite("docs/signalling.md session state example")
struct DocumentedSessionStateTests {
    @Test("the documented session state round-trips through SessionSummary and matches the evidence example")
    func sessionState() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/signalling.md").standardizedFileURL
        let text = try String(contentsOf: path, encoding: .utf8)
        let block = try #require(
            text.components(separatedBy: "```json\n").first { $0.hasPrefix(#"{"evidenceEntries""#) }?
                .components(separatedBy: "\n```").first)
        let summary = try JSONDecoder().decode(SessionSummary.self, from: Data(block.utf8))
        let documented = try JSONSerialization.jsonObject(with: Data(block.utf8)) as? NSDictionary
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(summary)) as? NSDictionary
        #expect(documented == encoded)
        let evidence = try JSONDecoder().decode(
            PublishedEvidence.self, from: Data(try DocumentedEvidenceTests.documented().utf8))
        #expect(summary.signedHead == evidence.signedHead && summary.evidenceHead == evidence.signedHead?.head)
        #expect(summary.evidenceEntries == evidence.entries.count)
    }
}
