import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Signalling
import SignallingClient
import Synchronization

/// `partyline load signalling`: creates sessions through the session-setup API, connects every member over
/// WebSocket, and once each group's first turn has started, has every member send `candidate` messages
/// along its turn's edges (prover → each verifier, verifier → prover) at a fixed rate. Each message
/// carries its send time, so the receiver measures the relay latency through the server.
public struct SignallingLoadGenerator: Sendable {
    public var baseURL: String
    public var apiKey: String
    public var members: Int
    public var groupSize: Int
    /// Messages per second each member sends.
    public var rate: Double
    public var duration: Duration
    /// Members connecting at once.
    public var connectBatch: Int
    /// Members connecting per second at most (real members arrive spread out, and so do their heartbeats).
    public var connectRate: Double
    /// Overrides the WebSocket URL the API reports.
    public var signallingURL: String?
    /// When set, the server's resident memory is read from /proc before and after the members connect.
    public var serverPID: Int32?

    public init(
        baseURL: String, apiKey: String, members: Int, groupSize: Int = 6, rate: Double = 1,
        duration: Duration = .seconds(10), connectBatch: Int = 100, connectRate: Double = 1000,
        signallingURL: String? = nil, serverPID: Int32? = nil
    ) {
        self.connectRate = connectRate
        self.signallingURL = signallingURL
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.members = members
        self.groupSize = groupSize
        self.rate = rate
        self.duration = duration
        self.connectBatch = connectBatch
        self.serverPID = serverPID
    }

    /// What a run measured, beside the latency report.
    public struct Result: Sendable {
        public var report: LoadReport
        public var sessions: Int
        public var connected: Int
        public var setup: Duration
        public var serverBytesBefore: Int?
        public var serverBytesAfter: Int?
        /// Server CPU time (user + system) during the message phase, when measured.
        public var serverCPU: Duration?
        public var errors: [String: Int]

        /// Server CPU per relayed message, when measured.
        public var serverCPUPerMessage: Duration? {
            guard let serverCPU, report.received > 0 else { return nil }
            return serverCPU / report.received
        }

        /// Server memory per connected member, when measured.
        public var bytesPerMember: Int? {
            guard let before = serverBytesBefore, let after = serverBytesAfter, connected > 0 else { return nil }
            return (after - before) / connected
        }
    }

    /// Group sizes covering `members`: groups of `groupSize`, the remainder spread so none is below 3.
    static func groups(members: Int, groupSize: Int) -> [Int] {
        let count = max(1, Int((Double(members) / Double(groupSize)).rounded(.up)))
        let base = members / count
        return (0..<count).map { $0 < members % count ? base + 1 : base }
    }

    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Result {
        let logger = Logger(label: "partyline.load.signalling")
        let started = ContinuousClock.now
        let memoryBefore = serverPID.flatMap(Self.residentBytes)
        var created: [CreateSessionReply] = []
        for size in Self.groups(members: members, groupSize: groupSize) {
            created.append(try await createSession(size: size))
        }
        progress("\(created.count) sessions created in \(ContinuousClock.now - started)")
        let state = LoadState()
        var clients: [LoadMember] = []
        // Whole groups connect together, so each batch's first turns start without waiting for a join window.
        var pending: [LoadMember] = []
        let connectStart = ContinuousClock.now
        for (index, session) in created.enumerated() {
            let url = signallingURL ?? session.signallingURL
            pending += session.members.map {
                LoadMember(connection: SignallingConnection(url: url, logger: logger), token: $0.token, state: state)
            }
            guard pending.count >= connectBatch || index == created.count - 1 else { continue }
            let due = connectStart + .milliseconds(Int64(Double(clients.count) / max(connectRate, 1) * 1000))
            try await Task.sleep(until: due)
            for member in pending { member.start() }
            clients += pending
            pending = []
            try await state.waitForTurns(clients.count, timeout: .seconds(30))
        }
        let setup = ContinuousClock.now - started
        let memoryAfter = serverPID.flatMap(Self.residentBytes)
        progress("\(clients.count) members connected, first turns started, in \(setup)")

        state.open()
        let cpuBefore = serverPID.flatMap(Self.cpuTime)
        let loadStart = ContinuousClock.now
        try await withThrowingTaskGroup { group in
            for member in clients { group.addTask { try await member.send(rate: rate, until: loadStart + duration) } }
            group.addTask {
                var second = 1
                while ContinuousClock.now < loadStart + duration {
                    try await Task.sleep(until: loadStart + .seconds(second))
                    progress("  \(second) s  \(state.snapshot().received) messages relayed")
                    second += 1
                }
            }
            try await group.waitForAll()
        }
        let cpuAfter = serverPID.flatMap(Self.cpuTime)
        try await Task.sleep(for: .seconds(1))
        var report = state.snapshot()
        report.duration = duration
        report.lost = max(0, report.sent - report.received)
        for member in clients { member.connection.close() }
        return Result(
            report: report, sessions: created.count, connected: clients.count, setup: setup,
            serverBytesBefore: memoryBefore, serverBytesAfter: memoryAfter,
            serverCPU: cpuBefore.flatMap { before in cpuAfter.map { $0 - before } }, errors: state.errorCounts())
    }

    private struct CreateSessionReply: Decodable {
        struct Member: Decodable { let token: String }
        let signallingURL: String
        let members: [Member]
    }

    private func createSession(size: Int) async throws -> CreateSessionReply {
        var request = HTTPClientRequest(url: baseURL + "/v1/sessions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        let ids: [String] = (0..<size).map { _ in "load-\(UInt64.random(in: 0...UInt64.max))" }
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(["members": ids])))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .created else {
            throw LoadError("POST /v1/sessions: \(response.status) \(String(buffer: body))")
        }
        return try JSONDecoder().decode(CreateSessionReply.self, from: Data(body.readableBytesView))
    }

    /// User plus system CPU time of a process so far (Linux, from /proc/PID/stat in clock ticks of 10 ms).
    static func cpuTime(_ pid: Int32) -> Duration? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return .milliseconds((user + system) * 10)
    }

    /// VmRSS of a process, in bytes (Linux).
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ")[1])
        else { return nil }
        return kilobytes * 1024
    }
}

/// A load run failed.
public struct LoadError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
