import ArgumentParser
import Coordinator
import Foundation
import Shared
import Signalling

/// Reads a JSON document from a file, or from standard input for `-`.
func readDocument(_ path: String) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
    return data
}

struct VerifyAssignmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-assignment",
        abstract: """
            Re-derive a party's groups from its revealed seed and registration list and compare them with the \
            published ones. Input: the JSON of GET /v1/parties/{id}/assignment, e.g. \
            curl -s http://host:8080/v1/parties/ID/assignment | partyline verify-assignment -
            """
    )

    @Argument(help: "The published assignment (JSON file, or - for standard input).")
    var assignment: String

    func run() throws {
        let published = try JSONDecoder().decode(PublishedAssignment.self, from: try readDocument(assignment))
        do {
            let groups = try published.verify()
            print(
                "assignment of party \(published.party) verified: seed matches its commitment; "
                    + "\(published.accounts.count) accounts, \(groups.count) groups re-derived identically")
        } catch {
            print("assignment of party \(published.party) does NOT verify: \(error)")
            throw ExitCode.failure
        }
    }
}

struct VerifyEvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-evidence",
        abstract: """
            Check a session's evidence log offline: the hash chain, and the server's signed head over it. \
            Input: the JSON of GET /v1/sessions/{id}/evidence, e.g. \
            curl -s -H 'Authorization: Bearer KEY' http://host:8080/v1/sessions/ID/evidence | \
            partyline verify-evidence -
            """
    )

    @Argument(help: "The published evidence (JSON file, or - for standard input).")
    var evidence: String

    @Option(help: "The server's evidence key (hex Ed25519) to require, rather than trusting the document's own.")
    var publicKey: String?

    func run() throws {
        let published = try JSONDecoder().decode(PublishedEvidence.self, from: try readDocument(evidence))
        if let publicKey, publicKey.lowercased() != published.publicKey.lowercased() {
            print("evidence does NOT verify: it is signed by \(published.publicKey), not by \(publicKey)")
            throw ExitCode.failure
        }
        do {
            try published.verify()
            print(
                "evidence verified: \(published.entries.count) entries chain to head "
                    + "\(published.signedHead?.head ?? ""), signed by \(published.publicKey)")
        } catch {
            print("evidence does NOT verify: \(error)")
            throw ExitCode.failure
        }
    }
}

struct VerifyAttestationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-attestation",
        abstract: """
            Check a registry attestation offline against the registry's public key (the JSON of \
            GET /.well-known/partyline-attestation-key, or its base64url publicKey).
            """
    )

    @Option(help: "The registry's key: a JSON file from /.well-known/partyline-attestation-key.")
    var keyFile: String?

    @Option(help: "The registry's Ed25519 public key, base64url.")
    var publicKey: String?

    @Argument(help: "The attestation (JSON of GET /v1/attestations/{account}; - for standard input).")
    var attestation: String

    func run() throws {
        let keyText: String
        if let publicKey {
            keyText = publicKey
        } else if let keyFile {
            let json = try JSONSerialization.jsonObject(with: try readDocument(keyFile)) as? [String: Any]
            guard let text = json?["publicKey"] as? String else { throw ValidationError("no publicKey in \(keyFile)") }
            keyText = text
        } else {
            throw ValidationError("give --key-file or --public-key")
        }
        guard let key = Base64URL.decode(keyText) else { throw ValidationError("the public key is not base64url") }
        let signed = try JSONDecoder().decode(SignedAttestation.self, from: try readDocument(attestation))
        do {
            let statement = try AttestationSigner.verify(
                signed, publicKey: key, now: Int64(Date().timeIntervalSince1970))
            print(
                "attestation verified: account \(statement.account) is \(statement.level.name) (level "
                    + "\(statement.level.rawValue))"
                    + (statement.party.map { ", validated at party \($0)" } ?? "")
                    + (statement.expires.map { ", validation until \($0)" } ?? "")
                    + ", issued at \(statement.issuedAt), counts until \(statement.validUntil)")
        } catch {
            print("attestation does NOT verify: \(error.rawValue)")
            throw ExitCode.failure
        }
    }
}
