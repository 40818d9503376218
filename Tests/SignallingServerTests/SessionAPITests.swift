import Foundation
import Signalling
import SignallingServer
import Testing

@Suite("Session-setup API over HTTP on loopback", .timeLimit(.minutes(1)))
struct SessionAPITests {
    @Test("without the API key, with bad JSON, bad members, bad options or a huge body: 4xx with a code, nothing made")
    func refusals() async throws {
        try await SignallingHarness.withRunning { harness in
            let members = #"{"members":["a","b","c"]}"#
            let noKey = try await harness.call("POST", "/v1/sessions", body: members, key: nil)
            #expect(noKey.status == 401 && noKey.json["code"] as? String == "unauthorized")
            let wrongKey = try await harness.call("POST", "/v1/sessions", body: members, key: "guess")
            #expect(wrongKey.status == 401)
            let badJSON = try await harness.call("POST", "/v1/sessions", body: "{members:")
            #expect(badJSON.status == 400 && badJSON.json["code"] as? String == "invalid-json")
            for body in [#"{"members":["a","b"]}"#, #"{"members":["a","a","b"]}"#, #"{"members":["a","b","c/d"]}"#] {
                let refused = try await harness.call("POST", "/v1/sessions", body: body)
                #expect(refused.status == 400 && refused.json["code"] as? String == "invalid-members", "\(body)")
            }
            let options = #"{"members":["a","b","c"],"options":{"turnDeadlineSeconds":0}}"#
            let badOptions = try await harness.call("POST", "/v1/sessions", body: options)
            #expect(badOptions.status == 400 && badOptions.json["code"] as? String == "invalid-options")
            let huge = #"{"members":["a","b","c"],"pad":""# + String(repeating: "x", count: 100_000) + #""}"#
            let tooBig = try await harness.call("POST", "/v1/sessions", body: huge)
            #expect(tooBig.status == 413 && tooBig.json["code"] as? String == "body-too-large")
            let missing = try await harness.call("GET", "/v1/sessions/nope")
            #expect(missing.status == 404 && missing.json["code"] as? String == "session-not-found")
        }
    }

    @Test("a session is created with one token and pseudonym per member, and reads back as waiting")
    func create() async throws {
        try await SignallingHarness.withRunning { harness in
            let created = try await harness.createSession(members: ["m1", "m2", "m3", "m4", "m5", "m6"])
            #expect(created.members.map(\.member) == ["m1", "m2", "m3", "m4", "m5", "m6"])
            #expect(Set(created.members.map(\.pseudonym)).count == 6)
            #expect(created.signallingURL.hasSuffix("/v1/signal"))
            let state = try await harness.call("GET", "/v1/sessions/\(created.session)")
            #expect(state.status == 200 && state.json["state"] as? String == "waiting")
            #expect((state.json["members"] as? [[String: Any]])?.count == 6)
            let unauthorized = try await harness.call("GET", "/v1/sessions/\(created.session)", key: nil)
            #expect(unauthorized.status == 401)
        }
    }
}
