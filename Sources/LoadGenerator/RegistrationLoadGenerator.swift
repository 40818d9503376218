import Foundation

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

    let count: Int
    let concurrency: Int
    let party: String?
    /// Where each acknowledged registration's account is appended (the crash test reads it back).
    let ackedFile: String?
    let api: CoordinatorClient

    public init(
        baseURL: String, adminKey: String, count: Int, concurrency: Int, party: String?, ackedFile: String?
    ) {
        self.count = count
        self.concurrency = max(1, concurrency)
        self.party = party
        self.ackedFile = ackedFile
        api = CoordinatorClient(baseURL: baseURL, adminKey: adminKey, connections: self.concurrency)
    }

    /// Creates the party (unless one was given), prepares the accounts, then registers them all.
    public func run(progress: @Sendable (String) -> Void) async throws -> (party: String, result: Result) {
        do {
            let outcome = try await measure(progress: progress)
            await api.shutdown()
            return outcome
        } catch {
            await api.shutdown()
            throw error
        }
    }

    private func measure(progress: @Sendable (String) -> Void) async throws -> (party: String, result: Result) {
        let now = Int64(Date().timeIntervalSince1970)
        let party: String
        if let given = self.party {
            party = given
        } else {
            party = try await api.createParty(
                #""name":"load","registrationOpensAt":\#(now - 60),"registrationClosesAt":\#(now + 86_400),"#
                    + #""startsAt":\#(now + 86_400),"deposit":10"#)
        }
        progress("party \(party): logging in and crediting \(count) accounts")
        let tokens = try await concurrently(0..<count, limit: concurrency) { _ in
            try await api.prepareAccount(credit: 10)
        }
        progress("registering \(count) accounts, \(concurrency) at a time")
        let acked = ackedFile.map(AckLog.init(path:))
        let clock = ContinuousClock()
        let start = clock.now
        let outcomes = try await concurrently(tokens.indices, limit: concurrency) { index -> String in
            guard let reply = try? await api.registerAtRandom(party: party, token: tokens[index].token) else {
                return "failed"
            }
            if reply.status == 201 {
                acked?.append(tokens[index].account)
                return "accepted"
            }
            return reply.json["code"] as? String ?? "failed"
        }
        let elapsed = clock.now - start
        acked?.synchronize()
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
}
