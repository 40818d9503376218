import Crypto
import Signalling
import Testing

@Suite("Evidence log: SHA-256 chain with a signed head")
struct EvidenceLogTests {
    func sampleLog() -> EvidenceLog {
        var log = EvidenceLog()
        log.append(kind: "join", detail: "member=amber-otter-12", time: 1_800_000_000_000)
        log.append(
            kind: "turn-start", detail: "turn=0 prover=amber-otter-12 prompt=show the sky", time: 1_800_000_001_000)
        log.append(kind: "vote", detail: "turn=0 verifier=calm-heron-40 vote=approve", time: 1_800_000_009_000)
        log.append(kind: "decision", detail: "turn=0 outcome=approved approvals=3 denials=1", time: 1_800_000_010_000)
        return log
    }

    @Test("the chain verifies; changing, dropping or reordering any entry breaks it")
    func chain() {
        let log = sampleLog()
        #expect(log.entries.count == 4 && log.entries[0].previous == String(repeating: "0", count: 64))
        #expect(log.entries[1].previous == log.entries[0].hash && log.head == log.entries[3].hash)
        #expect(EvidenceLog.verify(log.entries))
        var tampered = log.entries
        tampered[2] = EvidenceLog.Entry(
            index: 2, time: tampered[2].time, kind: "vote", detail: "turn=0 verifier=calm-heron-40 vote=deny",
            previous: tampered[2].previous, hash: tampered[2].hash)
        #expect(!EvidenceLog.verify(tampered))
        #expect(!EvidenceLog.verify(Array(log.entries.dropFirst())))
        #expect(!EvidenceLog.verify([log.entries[1], log.entries[0]] + log.entries.dropFirst(2)))
    }

    @Test("the signed head vouches for exactly this log, under this key")
    func signedHead() throws {
        let log = sampleLog()
        let key = Curve25519.Signing.PrivateKey()
        let signed = try log.signHead(with: key)
        #expect(EvidenceLog.verify(log.entries, against: signed, publicKey: key.publicKey))
        #expect(!EvidenceLog.verify(log.entries, against: signed, publicKey: Curve25519.Signing.PrivateKey().publicKey))
        #expect(!EvidenceLog.verify(Array(log.entries.dropLast()), against: signed, publicKey: key.publicKey))
        let forged = EvidenceLog.SignedHead(
            count: signed.count, head: signed.head, signature: "zz" + signed.signature.dropFirst(2))
        #expect(!EvidenceLog.verify(log.entries, against: forged, publicKey: key.publicKey))
    }
}
