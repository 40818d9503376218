import Foundation
import Shared
import TURN
import Testing

@Suite("TURN REST credentials (coturn use-auth-secret)")
struct RESTCredentialTests {
    @Test("passwords match HMAC-SHA1 computed independently (Python's hmac module)")
    func compatibleWithCoturn() throws {
        let secrets = try #require(TURNRESTSecrets(["north"]))
        let credential = secrets.mint(subject: "alice", ttl: 600, now: 1_735_689_000)
        #expect(credential.username == "1735689600:alice")
        #expect(credential.password == "HbvWA6hGDtdv3wflBolXLhvzs0w=")
        #expect(credential.expires == 1_735_689_600)
    }

    @Test("every configured secret verifies; the first mints (rotation)")
    func rotation() throws {
        let secrets = try #require(TURNRESTSecrets(["rotated-secret", "north"]))
        let verdict = secrets.verdict(username: "1735689600:party/7/member-3", now: 1_735_689_000)
        #expect(
            verdict
                == .current(
                    expires: 1_735_689_600, subject: "party/7/member-3",
                    candidatePasswords: [
                        "zrwMB29R7hw/e3AM0Cg1oDeD61E=",
                        TURNRESTSecrets.password(for: "1735689600:party/7/member-3", secret: secrets.secrets[1]),
                    ]))
        #expect(
            secrets.mint(subject: "party/7/member-3", ttl: 600, now: 1_735_689_000).password
                == "zrwMB29R7hw/e3AM0Cg1oDeD61E=")
    }

    @Test("expired and malformed usernames are told apart")
    func verdicts() throws {
        let secrets = try #require(TURNRESTSecrets(["north"]))
        #expect(secrets.verdict(username: "1735689600:alice", now: 1_735_689_601) == .expired(expires: 1_735_689_600))
        #expect(secrets.verdict(username: "alice", now: 0) == .malformed)
        #expect(secrets.verdict(username: "soon:alice", now: 0) == .malformed)
        #expect(TURNRESTSecrets([]) == nil)
        #expect(TURNRESTSecrets([""]) == nil)
    }

    @Test("the iceServers entry is the JSON a browser takes")
    func iceServer() throws {
        let credential = try #require(TURNRESTSecrets(["north"])).mint(subject: "alice", ttl: 600, now: 1_735_689_000)
        let json = try ICEServer(urls: ["turn:relay.example.org:3478?transport=udp"], credential: credential).json()
        #expect(
            json
                == #"{"credential":"HbvWA6hGDtdv3wflBolXLhvzs0w=","urls":["turn:relay.example.org:3478?transport=udp"],"username":"1735689600:alice"}"#
        )
    }
}
