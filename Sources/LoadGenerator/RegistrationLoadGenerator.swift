import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Signalling

/// Registrations through the coordinator's HTTP API, as real clients make them: each account logs in with
/// an Ed25519 key (challenge, signed answer), is credited its deposit by the admin key, then registers at a
/// random point. The registration phase is timed on its own.
public struct RegistrationLoadGenerator: Sendable {
    public struct Result: Sendable {
        public let attempts: Int
        public let accepted: Int
        public let locationTaken: Int
        public let failed: Int
        public let seconds: Double
    }

    let baseURL: String
    let adminKey: String
    let count: Int
    let concurrency: Int
    let party: String?
    /// Where each acknowledged registration's account is appended (the crash test reads it back).
    let ackedFile: String?
    let client: HTTPClient

    public init(
        baseURL: String, adminKey: String, count: Int, concurrency: Int, party: String?, ackedFile: String?
    ) {
        self.baseURL = baseURL
        self.adminKey = adminKey
        self.count = count
        self.concurrency = max(1, concurrency)
        self.party = party
        self.ackedFile = ackedFile
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = self.concurrency
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Creates the party (unless one was given), prepares the accounts, then registers them all.
    public func run(progress: @Sendable (String) -> Void) async throws -> (party: String, result: Result) {
        do {
            let outcome = try await measure(progress: progress)
            try await client.shutdown()
            return outcome
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func measure(progress: @Sendable (String) -> Void) async throws -> (party: String, result: Result) {
        let party: String
        if let given = self.party { party = given } else { party = try await createParty() }
        progress("party \(party): logging in and crediting \(count) accounts")
        let tokens = try await concurrently(0..<count) { _ in try await self.prepareAccount() }
        progress("registering \(count) accounts, \(concurrency) at a time")
        let acked = ackedFile.map { FileHandle(forWritingAtPath: $0) ?? Self.create($0) }
        let clock = ContinuousClock()
        let start = clock.now
        let outcomes = try await concurrently(tokens.indices) { index -> String in
            var random = SystemRandomNumberGenerator()
            let body = String(
                format: #"{"latitude":%.6f,"longitude":%.6f}"#, Double.random(in: 50...55.4, using: &random),
                Double.random(in: 10...19, using: &random))
            let reply = try? await self.call(
                "POST", "/v1/parties/\(party)/registrations", body: body, bearer: tokens[index].token)
            guard let reply else { return "failed" }
            if reply.status == 201 {
                acked?.write(Data((tokens[index].account + "\n").utf8))
                return "accepted"
            }
            return reply.json["code"] as? String ?? "failed"
        }
        let elapsed = clock.now - start
        try acked?.synchronize()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let accepted = outcomes.filter { $0 == "accepted" }.count
        let taken = outcomes.filter { $0 == "location-taken" }.count
        return (
            party,
            Result(
                attempts: outcomes.count, accepted: accepted, locationTaken: taken,
                failed: outcomes.count - accepted - taken, seconds: seconds)
        )
    }

    private static func create(_ path: String) -> FileHandle {
        FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)!
    }

    private func createParty() async throws -> String {
        let now = Int64(Date().timeIntervalSince1970)
        let body = """
            {"name":"load","registrationOpensAt":\(now - 60),"registrationClosesAt":\(now + 86_400),\
            "startsAt":\(now + 86_400),"deposit":10}
            """
        let reply = try await call("POST", "/v1/parties", body: body, bearer: adminKey)
        guard reply.status == 201, let id = reply.json["id"] as? String else {
            throw LoadError("creating the party failed: \(reply.status) \(reply.json)")
        }
        return id
    }

    private func prepareAccount() async throws -> (account: String, token: String) {
        let key = Curve25519.Signing.PrivateKey()
        let publicKey = Base64URL.encode(key.publicKey.rawRepresentation)
        let challenge = try await call(
            "POST", "/v1/auth/challenge", body: #"{"algorithm":"Ed25519","publicKey":"\#(publicKey)"}"#)
        guard let text = challenge.json["signedText"] as? String, let nonce = challenge.json["challenge"] as? String
        else { throw LoadError("challenge refused: \(challenge.json)") }
        let signature = Base64URL.encode(try key.signature(for: Data(text.utf8)))
        let session = try await call(
            "POST", "/v1/auth/session",
            body:
                #"{"algorithm":"Ed25519","publicKey":"\#(publicKey)","challenge":"\#(nonce)","signature":"\#(signature)"}"#
        )
        guard let account = session.json["account"] as? String, let token = session.json["token"] as? String else {
            throw LoadError("login refused: \(session.json)")
        }
        let credit = try await call(
            "POST", "/v1/admin/credits", body: #"{"account":"\#(account)","amount":10}"#, bearer: adminKey)
        guard credit.status == 200 else { throw LoadError("credit refused: \(credit.json)") }
        return (account, token)
    }

    /// Runs `work` for every element with at most `concurrency` in flight; results in input order.
    private func concurrently<T: Sendable>(
        _ indices: Range<Int>, _ work: @escaping @Sendable (Int) async throws -> T
    ) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = [T?](repeating: nil, count: indices.count)
            var next = indices.lowerBound
            for _ in 0..<min(concurrency, indices.count) {
                let index = next
                group.addTask { (index, try await work(index)) }
                next += 1
            }
            while let (index, value) = try await group.next() {
                results[index - indices.lowerBound] = value
                if next < indices.upperBound {
                    let index = next
                    group.addTask { (index, try await work(index)) }
                    next += 1
                }
            }
            return results.map { $0! }
        }
    }

    private func call(_ method: String, _ path: String, body: String? = nil, bearer: String? = nil) async throws
        -> (status: Int, json: [String: Any])
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json)
    }
}
