import Coordinator
import Crypto
import Foundation
import Shared
import Signalling
import Testing

@Suite("Accounts: keys and challenge login")
struct AccountLoginTests {
    static let now: Int64 = 1_800_000_000

    @Test("a P-256 key answers with a raw or DER signature; compressed and uncompressed keys are one account")
    func p256Login() throws {
        let signer = P256.Signing.PrivateKey()
        let key = try AccountKey(algorithm: .p256, publicKey: signer.publicKey.x963Representation)
        let compressed = try AccountKey(algorithm: .p256, publicKey: signer.publicKey.compressedRepresentation)
        #expect(key.accountID == compressed.accountID && key.accountID.count == 40)
        var login = AccountLogin(secret: "s")
        for der in [false, true] {
            let challenge = login.challenge(for: key, nonce: Array(repeating: der ? 1 : 2, count: 16), now: Self.now)
            let signature = try signer.signature(for: AccountLogin.signedText(challenge))
            let answer = try login.answer(
                challenge: challenge, key: key,
                signature: der ? signature.derRepresentation : signature.rawRepresentation, now: Self.now + 1)
            #expect(answer.session.account == key.accountID)
            #expect(try login.sessions.verify(answer.token, now: Self.now + 2) == answer.session)
        }
    }

    @Test("refusals: wrong key, bad signature, expired, forged, replayed")
    func refusals() throws {
        let signer = Curve25519.Signing.PrivateKey()
        let key = try AccountKey(algorithm: .ed25519, publicKey: signer.publicKey.rawRepresentation)
        let other = try AccountKey(
            algorithm: .ed25519, publicKey: Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
        var login = AccountLogin(secret: "s", challengeLifetime: 60)
        let challenge = login.challenge(for: key, nonce: Array(repeating: 3, count: 16), now: Self.now)
        let signature = try signer.signature(for: AccountLogin.signedText(challenge))
        #expect(throws: LoginError.wrongAccount) {
            try login.answer(challenge: challenge, key: other, signature: signature, now: Self.now)
        }
        #expect(throws: LoginError.invalidSignature) {
            try login.answer(challenge: challenge, key: key, signature: Data(repeating: 0, count: 64), now: Self.now)
        }
        #expect(throws: LoginError.expiredChallenge) {
            try login.answer(challenge: challenge, key: key, signature: signature, now: Self.now + 60)
        }
        let forged = AccountLogin(secret: "other").challenge(for: key, nonce: [1], now: Self.now)
        #expect(throws: LoginError.invalidChallenge) {
            try login.answer(challenge: forged, key: key, signature: signature, now: Self.now)
        }
        _ = try login.answer(challenge: challenge, key: key, signature: signature, now: Self.now)
        #expect(throws: LoginError.replayedChallenge) {
            try login.answer(challenge: challenge, key: key, signature: signature, now: Self.now + 1)
        }
        #expect(throws: AccountKeyError.invalidKey) { try AccountKey(algorithm: .p256, publicKey: [4, 1, 2, 3]) }
        #expect(throws: AccountKeyError.invalidKey) {
            try AccountKey(algorithm: .p256, publicKey: [4] + Array(repeating: 0, count: 64))
        }
    }
}
