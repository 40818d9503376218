import Coordinator
import Crypto
import Foundation

/// Accounts with real keys, and a party open for registration at `Fixtures.now`.
enum Fixtures {
    static let now: Int64 = 1_800_000_000

    /// A fresh P-256 key pair as an account.
    static func account() -> (key: AccountKey, signer: P256.Signing.PrivateKey) {
        let signer = P256.Signing.PrivateKey()
        // A freshly generated key is always a valid point.
        return (try! AccountKey(algorithm: .p256, publicKey: signer.publicKey.x963Representation), signer)
    }

    static func draft(deposit: Int64 = 0, minimumDistance: Double = 100, slashPermille: Int = 0) -> PartyDraft {
        PartyDraft(
            name: "Test party", timeZone: "Europe/Berlin", registrationOpensAt: now - 60,
            registrationClosesAt: now + 3600, startsAt: now + 7200, minimumDistance: minimumDistance, deposit: deposit,
            slashPermille: slashPermille)
    }

    static func seed() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }
}
