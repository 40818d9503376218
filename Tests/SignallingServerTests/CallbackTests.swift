import Callbacks
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PartyLineTesting
import Signalling
import SignallingServer
import Testing

@Suite("Result callbacks to the coordinator", .timeLimit(.minutes(1)))
struct CallbackTests {
    @Test("signatures verify with the secret only, and only for the signed body and a fresh timestamp")
    func signatures() {
        let body = Array(#"{"session":"s"}"#.utf8)
        let header = CallbackSignature.sign(body: body, timestamp: 1_000, secret: "shh")
        #expect(CallbackSignature.verify(header: header, body: body, secret: "shh", now: 1_100))
        #expect(!CallbackSignature.verify(header: header, body: body, secret: "other", now: 1_100))
        #expect(!CallbackSignature.verify(header: header, body: body + [0x20], secret: "shh", now: 1_100))
        #expect(!CallbackSignature.verify(header: header, body: body, secret: "shh", now: 2_000), "too old")
        #expect(!CallbackSignature.verify(header: "t=1000", body: body, secret: "shh", now: 1_000))
        #expect(!CallbackSignature.verify(header: "garbage", body: body, secret: "shh", now: 1_000))
    }

    @Test("a finished session's result is POSTed, signed, and retried after a failure until accepted")
    func delivery() async throws {
        let received = NIOLockedValueBox<[(signature: String, body: Data)]>([])
        let router = Router()
        router.post("/result") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let first = received.withLockedValue { calls in
                calls.append(
                    (request.headers[values: .init("X-PartyLine-Signature")!].first ?? "", Data(body.readableBytesView))
                )
                return calls.count == 1
            }
            return first ? .internalServerError : .ok
        }
        let (ports, reportPort) = AsyncStream<Int>.makeStream()
        let receiver = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { reportPort.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "test.receiver"))
        try await withThrowingTaskGroup { group in
            group.addTask { try await receiver.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let receiverPort = try #require(await iterator.next())
            var configuration = SignallingHarness.configuration()
            configuration.callbackSecret = "callback secret"
            configuration.callbackInitialBackoff = .milliseconds(100)
            try await SignallingHarness.withRunning(configuration) { harness in
                let refused = try await harness.call(
                    "POST", "/v1/sessions", body: #"{"members":["a","b","c"],"callbackURL":"ftp://x"}"#)
                #expect(refused.status == 400 && refused.json["code"] as? String == "invalid-callback")
                let body = try JSONEncoder().encode(
                    CreateSessionRequest(
                        members: ["a", "b", "c"], options: .init(turnDeadlineSeconds: 5, noShowGraceSeconds: 1),
                        callbackURL: "http://127.0.0.1:\(receiverPort)/result"))
                let created = try await harness.call(
                    "POST", "/v1/sessions", body: String(decoding: body, as: UTF8.self))
                #expect(created.status == 201)
                // Nobody joins: after the join window every prover is a no-show and the session finishes.
                #expect(try await eventually(timeout: .seconds(20)) { received.withLockedValue { $0.count } >= 2 })
            }
        }
        let calls = received.withLockedValue { $0 }
        #expect(calls.count == 2, "retried once after the 500, then accepted")
        let last = try #require(calls.last)
        let now = Int64(Date().timeIntervalSince1970)
        #expect(CallbackSignature.verify(header: last.signature, body: last.body, secret: "callback secret", now: now))
        let summary = try JSONDecoder().decode(SessionSummary.self, from: last.body)
        #expect(summary.state == "finished" && summary.members.allSatisfy { $0.outcome == .noShow })
        #expect(summary.signedHead != nil)
    }
}
