import Crypto
import Foundation
import STUN
import TURN
import Testing

@Suite("Stateless nonces")
struct NonceIssuerTests {
    let key = SymmetricKey(data: Array("nonce key".utf8))
    let client = TransportAddress(ip: .v4(0x0A00_0001), port: 5000)

    @Test("fresh for its client on any port and on another issuer with the key; invalid for others; stale late")
    func verdicts() {
        let issuer = NonceIssuer(key: key, lifetime: 600)
        let nonce = issuer.nonce(for: client, now: 1_000)
        #expect(issuer.check(nonce, client: client, now: 1_000) == .fresh)
        #expect(issuer.check(nonce, client: TransportAddress(ip: client.ip, port: 6000), now: 1_100) == .fresh)
        #expect(NonceIssuer(key: key, lifetime: 600).check(nonce, client: client, now: 1_000) == .fresh)
        #expect(NonceIssuer(lifetime: 600).check(nonce, client: client, now: 1_000) == .invalid)
        #expect(issuer.check(nonce, client: TransportAddress(ip: .v4(0x0A00_0002), port: 5000), now: 1_000) == .invalid)
        #expect(issuer.check(nonce, client: client, now: 1_601) == .stale)
        #expect(issuer.check(nonce, client: client, now: 990) == .invalid)
    }

    @Test("every byte of the code counts; one keyed HMAC serves many nonces, across threads")
    func tamperingAndReuse() async {
        let issuer = NonceIssuer(key: key, lifetime: 600)
        let nonce = issuer.nonce(for: client, now: 1_000)
        var payload = Data(base64Encoded: String(nonce.dropFirst(NonceIssuer.cookie.count)))!
        for index in payload.indices {
            payload[index] ^= 0x01
            let tampered = NonceIssuer.cookie + payload.base64EncodedString()
            #expect(issuer.check(tampered, client: client, now: 1_000) == .invalid, "byte \(index)")
            payload[index] ^= 0x01
        }
        let verdicts = await withTaskGroup(of: Bool.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    (0..<500).allSatisfy { index in
                        let address = TransportAddress(ip: .v4(UInt32(worker * 1_000 + index)), port: 1)
                        let now = UInt64(1_000 + index)
                        let nonce = issuer.nonce(for: address, now: now)
                        return issuer.check(nonce, client: address, now: now) == .fresh
                            && issuer.nonce(for: address, now: now) == nonce
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(verdicts == [true, true, true, true])
    }
}
