import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Shared
import Signalling

/// The coordinator's HTTP API as the load tools call it: JSON requests, and accounts that log in as real
/// clients do (an Ed25519 key, a challenge, a signed answer) and are credited by the admin key.
struct CoordinatorClient: Sendable {
    let baseURL: String
    let adminKey: String
    let client: HTTPClient

    init(baseURL: String, adminKey: String, connections: Int) {
        self.baseURL = baseURL
        self.adminKey = adminKey
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async { try? await client.shutdown() }

    /// Creates a party with these fields (JSON object members, without braces); its id.
    func createParty(_ fields: String) async throws -> String {
        let reply = try await call("POST", "/v1/parties", body: "{\(fields)}", bearer: adminKey)
        guard reply.status == 201, let id = reply.json["id"] as? String else {
            throw LoadError("creating the party failed: \(reply.status) \(reply.json)")
        }
        return id
    }

    /// Logs in a fresh account and credits it `credit`; its id and session token.
    func prepareAccount(credit amount: Int64) async throws -> (account: String, token: String) {
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
            "POST", "/v1/admin/credits", body: #"{"account":"\#(account)","amount":\#(amount)}"#, bearer: adminKey)
        guard credit.status == 200 else { throw LoadError("credit refused: \(credit.json)") }
        return (account, token)
    }

    /// Registers with `token` at a random point in a large box (so spacing rarely refuses).
    func registerAtRandom(party: String, token: String) async throws -> (status: Int, json: [String: Any]) {
        var random = SystemRandomNumberGenerator()
        let body = String(
            format: #"{"latitude":%.6f,"longitude":%.6f}"#, Double.random(in: 50...55.4, using: &random),
            Double.random(in: 10...19, using: &random))
        return try await call("POST", "/v1/parties/\(party)/registrations", body: body, bearer: token)
    }

    func call(_ method: String, _ path: String, body: String? = nil, bearer: String? = nil) async throws
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

/// Runs `work` for every index with at most `limit` in flight; results in index order.
func concurrently<T: Sendable>(
    _ indices: Range<Int>, limit: Int, _ work: @escaping @Sendable (Int) async throws -> T
) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        var results = [T?](repeating: nil, count: indices.count)
        var next = indices.lowerBound
        for _ in 0..<min(max(limit, 1), indices.count) {
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

/// Appends lines to a file with one write each, so a line is either whole on disk or absent.
final class AckLog: Sendable {
    private let handle: FileHandle

    init(path: String) {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
    }

    func append(_ line: String) { handle.write(Data((line + "\n").utf8)) }

    func synchronize() { try? handle.synchronize() }
}
