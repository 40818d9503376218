import Foundation
import Logging
import Signalling
import SignallingClient
import Synchronization

/// `partyline load party`: a whole party played by real clients. Logs in and credits N accounts, creates a
/// party starting shortly, registers them all, and at the start has each member fetch its group from the
/// coordinator, join the session over WebSocket and approve every turn it verifies after a random delay;
/// told its group is undersized, a member waits for its new group. Each acknowledged vote (`vote-ack`) and
/// each approved own turn are appended to files, which the crash test reads back after a restart.
public struct PartyLoadGenerator: Sendable {
    public struct Result: Sendable {
        public let party: String
        public let votesAcknowledged: Int
        public let validated: Int
        public let membersFinished: Int
    }

    let api: CoordinatorClient
    let baseURL: String
    let members: Int
    let groupSize: Int
    /// Seconds from now to the party's start (registration closes then).
    let startIn: Int
    /// Mean delay before a verifier votes.
    let voteDelay: Duration
    /// `party session turn account` per acknowledged vote.
    let votesFile: String?
    /// `party account` per own turn announced approved.
    let validatedFile: String?

    public init(
        baseURL: String, adminKey: String, members: Int, groupSize: Int, startIn: Int, voteDelay: Duration,
        votesFile: String?, validatedFile: String?
    ) {
        api = CoordinatorClient(baseURL: baseURL, adminKey: adminKey, connections: 32)
        self.baseURL = baseURL
        self.members = members
        self.groupSize = groupSize
        self.startIn = startIn
        self.voteDelay = voteDelay
        self.votesFile = votesFile
        self.validatedFile = validatedFile
    }

    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Result {
        do {
            let result = try await play(progress: progress)
            await api.shutdown()
            return result
        } catch {
            await api.shutdown()
            throw error
        }
    }

    private func play(progress: @escaping @Sendable (String) -> Void) async throws -> Result {
        let now = Int64(Date().timeIntervalSince1970)
        let party = try await api.createParty(
            #""name":"load party","registrationOpensAt":\#(now - 60),"registrationClosesAt":\#(now + Int64(startIn)),"#
                + #""startsAt":\#(now + Int64(startIn)),"duration":3600,"deposit":10,"groupSize":\#(groupSize)"#)
        progress("party \(party): \(members) members, starting in \(startIn) s")
        let accounts = try await concurrently(0..<members, limit: 32) { _ in try await api.prepareAccount(credit: 10) }
        let registered = try await concurrently(accounts.indices, limit: 32) { index in
            try await api.registerAtRandom(party: party, token: accounts[index].token).status == 201
        }
        let players = zip(accounts, registered).filter(\.1).map(\.0)
        progress("\(players.count) registered; waiting for the start")
        let votes = votesFile.map(AckLog.init(path:))
        let validated = validatedFile.map(AckLog.init(path:))
        let counts = PartyTally()
        await withTaskGroup { group in
            for player in players {
                group.addTask {
                    let member = PartyMember(
                        api: api, party: party, account: player.account, token: player.token, voteDelay: voteDelay)
                    let outcome = await member.play(
                        voteAcknowledged: { session, turn in
                            votes?.append("\(party) \(session) \(turn) \(player.account)")
                            counts.count { $0.votes += 1 }
                        },
                        validated: {
                            validated?.append("\(party) \(player.account)")
                            counts.count { $0.validated += 1 }
                        })
                    if outcome { counts.count { $0.finished += 1 } }
                }
            }
        }
        let final = counts.count { $0 }
        return Result(
            party: party, votesAcknowledged: final.votes, validated: final.validated, membersFinished: final.finished)
    }
}

/// What the members of a load party saw, counted across their tasks.
final class PartyTally: Sendable {
    struct Counts {
        var votes = 0
        var validated = 0
        var finished = 0
    }

    private let counts = Mutex(Counts())

    func count<T>(_ body: (inout Counts) -> T) -> T { counts.withLock { body(&$0) } }
}

/// One member of a load party.
struct PartyMember: Sendable {
    let api: CoordinatorClient
    let party: String
    let account: String
    let token: String
    let voteDelay: Duration

    /// Most sessions a member joins (welcomed), within three minutes: its first, new groups after an
    /// undersized one, sessions created again after the node running one was lost, and reconnections.
    static let maximumJoins = 8

    /// Plays until its session's result (true) or until it gives up (false). Told its group is undersized, it
    /// waits for its new group; when its connection drops before the result (the node running the session
    /// died or restarted), it asks the coordinator again and joins the session it names: the same one again,
    /// or the one created for the group on another node.
    func play(voteAcknowledged: @escaping @Sendable (String, Int) -> Void, validated: @escaping @Sendable () -> Void)
        async -> Bool
    {
        var logger = Logger(label: "partyline.load.party")
        logger.logLevel = .warning
        var left: Set<String> = []
        var joins = 0
        let giveUp = ContinuousClock.now + .seconds(180)
        while joins < Self.maximumJoins, ContinuousClock.now < giveUp {
            guard let (session, joinToken, url) = await nextSession(excluding: left) else { return false }
            let connection = SignallingConnection(url: url, logger: logger)
            connection.send(.join(version: SessionRoom.protocolVersion, token: joinToken))
            var me = ""
            var ended = false
            for await message in connection.messages {
                switch message {
                case .welcome(let welcome):
                    me = welcome.you
                    joins += 1
                case .turnStart(let view) where view.role == .verifier:
                    let delay = voteDelay * Double.random(in: 0...2)
                    Task {
                        try? await Task.sleep(for: delay)
                        connection.send(.vote(turn: view.turn, vote: .approve))
                    }
                case .voteAck(let turn, _):
                    voteAcknowledged(session, turn)
                case .turnResult(let result) where result.prover == me && result.outcome == .approved:
                    validated()
                case .undersized:
                    left.insert(session)
                case .sessionResult:
                    ended = true
                    connection.close()
                default:
                    break
                }
            }
            if ended { return true }
            // A session that could not be joined (its node is gone) is named until the coordinator has made
            // the group a new one: ask again a little later.
            if !left.contains(session) { try? await Task.sleep(for: .milliseconds(me.isEmpty ? 500 : 200)) }
        }
        return false
    }

    /// Polls the coordinator until the member has a session it has not left (about a minute at most).
    private func nextSession(excluding left: Set<String>) async -> (String, String, String)? {
        for _ in 0..<600 {
            if let reply = try? await api.call("GET", "/v1/parties/\(party)/me", bearer: token),
                let session = reply.json["session"] as? String, !left.contains(session),
                let joinToken = reply.json["token"] as? String, let url = reply.json["signallingURL"] as? String
            {
                return (session, joinToken, url)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
