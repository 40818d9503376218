import Crypto
import NIOCore
import STUN
import TURN
import Testing

@Suite("Long-term authentication (RFC 8489 §9.2.4)")
struct TURNAuthenticatorTests {
    let client = TransportAddress(ip: .v4(0xC000_0201), port: 50000)
    let now: UInt64 = 1_800_000_000
    let authenticator = TURNAuthenticator(
        realm: "partyline", staticUsers: ["alice": "wonderland"], restSecrets: TURNRESTSecrets(["north"]),
        nonces: NonceIssuer(key: SymmetricKey(data: Array("nonce key".utf8)), lifetime: 600))

    func allocate(_ attributes: [STUNAttribute], signingWith key: STUNKey?) throws -> (STUNMessageView, STUNMessage) {
        let message = STUNMessage(
            type: STUNMessageType(method: .allocate, messageClass: .request),
            attributes: [.requestedTransport(17)] + attributes)
        let view = try STUNMessageView(
            datagram: message.encoded(signing: key.map { STUNSigning(key: $0) }, fingerprint: true))
        return (view, try view.decode())
    }

    func decide(_ attributes: [STUNAttribute], key: STUNKey?, at time: UInt64? = nil) throws
        -> TURNAuthenticator.Decision
    {
        let (view, message) = try allocate(attributes, signingWith: key)
        return authenticator.authenticate(view, message, client: client, now: time ?? now)
    }

    var nonce: String { authenticator.nonces.nonce(for: client, now: now) }

    func key(_ username: String, _ password: String, _ algorithm: PasswordAlgorithm = .md5) throws -> STUNKey {
        try #require(
            try STUNKey.longTerm(username: username, realm: "partyline", password: password, algorithm: algorithm))
    }

    @Test("a request without integrity is challenged: 401 with REALM, NONCE and PASSWORD-ALGORITHMS")
    func challenge() throws {
        guard case .challenge(let error, let attributes, .challenge) = try decide([], key: nil) else {
            Issue.record("not challenged")
            return
        }
        #expect(error.code == 401)
        #expect(attributes.map(\.type) == [.realm, .nonce, .passwordAlgorithms])
        guard case .nonce(let nonce) = attributes[1] else { return }
        #expect(nonce.hasPrefix("obMatJos2gAAA"))
    }

    @Test("a static user with the MD5 key (RFC 5389 clients send no algorithm) is authenticated")
    func md5() throws {
        let decision = try decide(
            [.username("alice"), .realm("partyline"), .nonce(nonce)], key: key("alice", "wonderland"))
        guard case .authenticated(let identity) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(identity.username == "alice")
        #expect(identity.passwordAlgorithm == .md5)
    }

    @Test("SHA-256 keys when the client echoes PASSWORD-ALGORITHMS and picks SHA-256")
    func sha256() throws {
        let attributes: [STUNAttribute] = [
            .username("alice"), .realm("partyline"), .nonce(nonce),
            .passwordAlgorithms(TURNAuthenticator.passwordAlgorithms), .passwordAlgorithm(.sha256),
        ]
        let decision = try decide(attributes, key: key("alice", "wonderland", .sha256))
        guard case .authenticated(let identity) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(identity.passwordAlgorithm == .sha256)
        #expect(try decide(attributes, key: key("alice", "wonderland", .md5)) != decision)
    }

    @Test("USERHASH finds the static user")
    func userhash() throws {
        let hash = try STUNKey.userhash(username: "alice", realm: "partyline")
        let decision = try decide(
            [.userhash(hash), .realm("partyline"), .nonce(nonce)], key: key("alice", "wonderland"))
        guard case .authenticated(let identity) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(identity.username == "alice")
    }

    @Test("REST usernames: current ones carry their subject, expired ones get 401")
    func rest() throws {
        let credential = try #require(TURNRESTSecrets(["north"])).mint(subject: "s/1/m", ttl: 60, now: now)
        let attributes: [STUNAttribute] = [.username(credential.username), .realm("partyline"), .nonce(nonce)]
        let decision = try decide(attributes, key: key(credential.username, credential.password))
        guard case .authenticated(let identity) = decision else {
            Issue.record("\(decision)")
            return
        }
        #expect(identity.subject == "s/1/m")
        #expect(identity.expires == now + 60)
        let late = now + 61
        let freshNonce = authenticator.nonces.nonce(for: client, now: late)
        let expired = try decide(
            [.username(credential.username), .realm("partyline"), .nonce(freshNonce)],
            key: key(credential.username, credential.password), at: late)
        guard case .challenge(let error, _, .expiredCredential) = expired else {
            Issue.record("\(expired)")
            return
        }
        #expect(error.code == 401)
    }

    @Test("wrong password and unknown users get 401; stale or foreign nonces get 438; malformed attempts 400")
    func refusals() throws {
        func code(_ decision: TURNAuthenticator.Decision) -> Int? {
            switch decision {
            case .challenge(let error, _, _): error.code
            case .badRequest: 400
            case .authenticated: nil
            }
        }
        func reason(_ decision: TURNAuthenticator.Decision) -> TURNAuthenticator.Refusal? {
            if case .challenge(_, _, let reason) = decision { reason } else { nil }
        }
        let good = try key("alice", "wonderland")
        #expect(
            reason(try decide([.username("alice"), .realm("partyline"), .nonce(nonce)], key: key("alice", "rabbit")))
                == .wrongPassword)
        #expect(
            reason(try decide([.username("bob"), .realm("partyline"), .nonce(nonce)], key: key("bob", "x")))
                == .unknownUser)
        #expect(
            reason(try decide([.username("alice"), .realm("partyline"), .nonce(nonce)], key: good, at: now + 601))
                == .staleNonce)
        #expect(
            code(try decide([.username("alice"), .realm("partyline"), .nonce(nonce)], key: key("alice", "rabbit")))
                == 401)
        #expect(code(try decide([.username("bob"), .realm("partyline"), .nonce(nonce)], key: key("bob", "x"))) == 401)
        #expect(
            code(try decide([.username("alice"), .realm("partyline"), .nonce(nonce)], key: good, at: now + 601)) == 438)
        let foreign = authenticator.nonces.nonce(for: TransportAddress(ip: .v4(1), port: 1), now: now)
        #expect(code(try decide([.username("alice"), .realm("partyline"), .nonce(foreign)], key: good)) == 438)
        #expect(
            code(try decide([.username("alice"), .realm("partyline"), .nonce("obMatJos2gAAAforged")], key: good)) == 438
        )
        #expect(code(try decide([.username("alice"), .nonce(nonce)], key: good)) == 400)
        #expect(code(try decide([.realm("partyline"), .nonce(nonce)], key: good)) == 400)
        #expect(
            code(
                try decide(
                    [.username("alice"), .realm("partyline"), .nonce(nonce), .passwordAlgorithm(.md5)], key: good))
                == 400)
        let reordered: [STUNAttribute] = [
            .username("alice"), .realm("partyline"), .nonce(nonce), .passwordAlgorithms([.md5, .sha256]),
            .passwordAlgorithm(.md5),
        ]
        #expect(code(try decide(reordered, key: good)) == 400)
    }
}
