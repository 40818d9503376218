import Coordinator
import CoordinatorServer
import Crypto
import Foundation
import PartyLineTesting
import Shared
import Signalling
import Testing

@Suite(
    "Coordinator API: login, parties, registration (SQLite, and PostgreSQL when configured)", .timeLimit(.minutes(1)))
struct RegistrationAPITests {
    @Test("login by challenge, admin-only party creation, and the public party list", arguments: TestDatabases.kinds)
    func loginAndParties(kind: TestDatabases.Kind) async throws {
        try await CoordinatorHarness.withRunning(kind) { server in
            let (account, token) = try await server.login()
            let me = try await server.call("GET", "/v1/accounts/me", bearer: token)
            #expect(me.status == 200 && me.json["account"] as? String == account && me.json["free"] as? Int == 0)
            #expect(try await server.call("GET", "/v1/accounts/me").status == 401)
            #expect(
                try await server.call("GET", "/v1/accounts/me", bearer: token + "x").json["code"] as? String
                    == "forged-token")

            let draft = #"{"name":"x","registrationOpensAt":0,"registrationClosesAt":10,"startsAt":20}"#
            #expect(try await server.call("POST", "/v1/parties", body: draft).status == 401)
            #expect(try await server.call("POST", "/v1/parties", body: draft, bearer: token).status == 401)
            let bad = try await server.call(
                "POST", "/v1/parties",
                body: #"{"name":"x","registrationOpensAt":0,"registrationClosesAt":10,"startsAt":20,"groupSize":2}"#,
                bearer: CoordinatorHarness.adminKey)
            #expect(bad.status == 400 && bad.json["code"] as? String == "invalid-party")
            let id = try await server.createParty(deposit: 100)
            let list = try await server.call("GET", "/v1/parties")
            let parties = try #require(list.body as? [[String: Any]])
            #expect(parties.count == 1 && parties[0]["id"] as? String == id)
            #expect((parties[0]["seedCommitment"] as? String)?.count == 64 && parties[0]["seed"] == nil)
            #expect(try await server.call("GET", "/v1/parties/nope").status == 404)
        }
    }

    @Test("registry and attestation calls refuse strings that cannot be an account id, and sign nothing for them")
    func accountIDs() async throws {
        try await CoordinatorHarness.withRunning(.sqlite) { server in
            let unknown = String(repeating: "ab", count: 20)
            #expect(
                try await server.call("GET", "/v1/registry/\(unknown)").json["levelName"] as? String == "unregistered")
            #expect(try await server.call("GET", "/v1/attestations/\(unknown)").status == 200)
            for bad in ["alice", String(repeating: "AB", count: 20), String(repeating: "a", count: 41), "%20"] {
                for path in ["/v1/registry/\(bad)", "/v1/registry/\(bad)/history", "/v1/attestations/\(bad)"] {
                    let reply = try await server.call("GET", path)
                    #expect(reply.status == 400 && reply.json["code"] as? String == "invalid-account", "\(path)")
                }
            }
            let batch = try await server.call(
                "POST", "/v1/registry/batch", body: #"{"accounts":["\#(unknown)","not-an-account"]}"#)
            #expect(batch.status == 400 && batch.json["code"] as? String == "invalid-account")
        }
    }

    @Test("login calls beyond an address's burst get 429 rate-limited, challenge and session alike")
    func loginRateLimit() async throws {
        try await CoordinatorHarness.withRunning(.sqlite, loginLimit: (perSecond: 0.01, burst: 4)) { server in
            // One whole login is two calls.
            _ = try await server.login()
            _ = try await server.login()
            let challenge = try await server.call(
                "POST", "/v1/auth/challenge", body: #"{"algorithm":"ES256","publicKey":"AAAA"}"#)
            #expect(challenge.status == 429 && challenge.json["code"] as? String == "rate-limited")
            let session = try await server.call("POST", "/v1/auth/session", body: "{}")
            #expect(session.status == 429 && session.json["code"] as? String == "rate-limited")
        }
    }

    @Test(
        "malformed keys, unknown algorithms, bad JSON and forged challenges get their codes",
        arguments: TestDatabases.kinds)
    func refusedLogins(kind: TestDatabases.Kind) async throws {
        try await CoordinatorHarness.withRunning(kind) { server in
            let junkKey = try await server.call(
                "POST", "/v1/auth/challenge", body: #"{"algorithm":"ES256","publicKey":"AAAA"}"#)
            #expect(junkKey.status == 400 && junkKey.json["code"] as? String == "invalid-key")
            let badAlgorithm = try await server.call(
                "POST", "/v1/auth/challenge", body: #"{"algorithm":"RS256","publicKey":"AAAA"}"#)
            #expect(badAlgorithm.status == 400)
            #expect(
                try await server.call("POST", "/v1/auth/challenge", body: "{").json["code"] as? String == "invalid-json"
            )
            let key = Base64URL.encode(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
            let garbage = try await server.call(
                "POST", "/v1/auth/session",
                body: #"{"algorithm":"Ed25519","publicKey":"\#(key)","challenge":"x.y","signature":"AA"}"#)
            #expect(garbage.status == 401 && garbage.json["code"] as? String == "invalid-challenge")
            // The all-zero Ed25519 key is of small order: refused as a key, before any challenge is looked at.
            let zero = try await server.call(
                "POST", "/v1/auth/session",
                body:
                    #"{"algorithm":"Ed25519","publicKey":"\#(String(repeating: "A", count: 43))","challenge":"x.y","signature":"AA"}"#
            )
            #expect(zero.status == 400 && zero.json["code"] as? String == "invalid-key")
        }
    }

    @Test("each registration refusal gets its code and changes nothing", arguments: TestDatabases.kinds)
    func refusals(kind: TestDatabases.Kind) async throws {
        try await CoordinatorHarness.withRunning(kind) { server in
            let party = try await server.createParty(deposit: 100)
            let (alice, aliceToken) = try await server.login()
            let (_, bobToken) = try await server.login()
            try await server.credit(alice, 150)
            let first = try await server.register(aliceToken, party: party, latitude: 51.5007, longitude: -0.1246)
            #expect(first.status == 201)

            func refused(_ reply: HTTPTestCall.Reply, _ status: Int, _ code: String) {
                #expect(reply.status == status && reply.json["code"] as? String == code, "\(reply.json)")
            }
            refused(
                try await server.register(aliceToken, party: party, latitude: 10, longitude: 10), 409,
                "already-registered")
            refused(
                try await server.register(bobToken, party: party, latitude: 51.5008, longitude: -0.1246), 409,
                "location-taken")
            refused(
                try await server.register(bobToken, party: party, latitude: 10, longitude: 10), 402,
                "insufficient-deposit")
            refused(
                try await server.register(bobToken, party: party, latitude: 95, longitude: 10), 400, "invalid-location")
            refused(
                try await server.register(bobToken, party: "missing", latitude: 10, longitude: 10), 404,
                "party-not-found")
            refused(
                try await server.register("not-a-token", party: party, latitude: 10, longitude: 10), 401,
                "malformed-token")
            refused(
                try await server.call(
                    "POST", "/v1/parties/\(party)/registrations", body: #"{"latitude":"x"}"#, bearer: bobToken),
                400, "invalid-json")
            refused(
                try await server.call(
                    "POST", "/v1/parties/\(party)/registrations",
                    body: #"{"latitude":1,"longitude":1,"description":"\#(String(repeating: "y", count: 100_000))"}"#,
                    bearer: bobToken), 413, "body-too-large")
            refused(
                try await server.call(
                    "POST", "/v1/admin/credits", body: #"{"account":"nobody","amount":5}"#,
                    bearer: CoordinatorHarness.adminKey), 404, "account-not-found")
            refused(
                try await server.call(
                    "POST", "/v1/admin/credits", body: #"{"account":"\#(alice)","amount":-5}"#,
                    bearer: CoordinatorHarness.adminKey), 400, "invalid-amount")

            server.clock.advance(3600)
            refused(
                try await server.register(bobToken, party: party, latitude: 10, longitude: 10), 409,
                "registration-closed")
            refused(
                try await server.call("DELETE", "/v1/parties/\(party)/registrations/me", bearer: aliceToken), 409,
                "registration-closed")

            let registrants = try await server.call("GET", "/v1/parties/\(party)/registrations")
            #expect(registrants.json["accounts"] as? [String] == [alice])
            let account = try await server.call("GET", "/v1/accounts/me", bearer: aliceToken)
            #expect(account.json["free"] as? Int == 50 && account.json["locked"] as? Int == 100)
        }
    }

    @Test("deregistering returns the deposit; withdrawals leave the books", arguments: TestDatabases.kinds)
    func deregistration(kind: TestDatabases.Kind) async throws {
        try await CoordinatorHarness.withRunning(kind) { server in
            let party = try await server.createParty(deposit: 100)
            let (alice, token) = try await server.login()
            try await server.credit(alice, 100)
            #expect(try await server.register(token, party: party, latitude: 0, longitude: 0).status == 201)
            let gone = try await server.call("DELETE", "/v1/parties/\(party)/registrations/me", bearer: token)
            #expect(gone.status == 200 && gone.json["released"] as? Int == 100)
            let again = try await server.call("DELETE", "/v1/parties/\(party)/registrations/me", bearer: token)
            #expect(again.json["code"] as? String == "not-registered")
            let withdrawn = try await server.call(
                "POST", "/v1/accounts/me/withdrawals", body: #"{"amount":60}"#, bearer: token)
            #expect(withdrawn.status == 200 && withdrawn.json["free"] as? Int == 40)
            let overdrawn = try await server.call(
                "POST", "/v1/accounts/me/withdrawals", body: #"{"amount":41}"#, bearer: token)
            #expect(overdrawn.status == 402 && overdrawn.json["code"] as? String == "insufficient-funds")
            #expect(server.api.coordinator.read { $0.ledger.isBalanced() })
        }
    }

    @Test(
        "forty concurrent registrations at one spot: exactly one succeeds, and it survives a restart",
        arguments: TestDatabases.kinds)
    func concurrentRegistrations(kind: TestDatabases.Kind) async throws {
        let backend = try await TestDatabases.make(kind)
        let clock = TestClock(Fixtures.now)
        var party = ""
        var winners: [String] = []
        try await CoordinatorHarness.withRunning(kind, backend: backend, clock: clock) { server in
            let id = try await server.createParty()
            party = id
            var logins: [(String, String)] = []
            for _ in 0..<40 { logins.append(try await server.login()) }
            let replies = try await withThrowingTaskGroup(of: (String, HTTPTestCall.Reply).self) { group in
                for (index, (account, token)) in logins.enumerated() {
                    // All within 30 m of one another.
                    let latitude = 48.137 + Double(index) * 0.000005
                    group.addTask {
                        (account, try await server.register(token, party: id, latitude: latitude, longitude: 11.575))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            winners = replies.filter { $0.1.status == 201 }.map(\.0)
            #expect(winners.count == 1)
            #expect(replies.filter { $0.1.json["code"] as? String == "location-taken" }.count == 39)
        }
        try await CoordinatorHarness.withRunning(kind, backend: backend, clock: clock) { server in
            let registrants = try await server.call("GET", "/v1/parties/\(party)/registrations")
            #expect(registrants.json["accounts"] as? [String] == winners)
        }
    }
}
