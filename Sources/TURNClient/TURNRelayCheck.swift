import NIOCore
import NIOPosix
import STUN

/// Why a relay check failed.
public enum TURNRelayCheckError: Error, CustomStringConvertible, Sendable {
    case resolutionFailed(String)
    /// The server refused a request, or answered it without what the RFC requires.
    case refused(String)
    /// No answer to a request before the deadline.
    case timedOut(String)
    /// Both allocations exist, but no packet came through the relays.
    case nothingRelayed(sent: Int)

    public var description: String {
        switch self {
        case .resolutionFailed(let host): "cannot resolve \(host)"
        case .refused(let reason): reason
        case .timedOut(let step): "no answer to \(step)"
        case .nothingRelayed(let sent): "\(sent) packets sent, none came back through the relays"
        }
    }
}

/// Proves a TURN server relays, from anywhere and behind any NAT: two allocations on the server, each
/// with a channel (or permission) toward the other's relayed address, then packets out through one relay
/// and back through the other — the path two browsers take when both use relay candidates. Built on
/// ``TURNAllocationClient`` over ``MessageLink``.
public enum TURNRelayCheck {
    /// What the check saw.
    public struct Result: Sendable {
        /// The two relayed transport addresses.
        public var relayed: [TransportAddress]
        /// The first client's address as the server saw it.
        public var mapped: TransportAddress?
        public var sent: Int
        /// Round trips (out through one relay, back through the other) of the packets that returned.
        public var roundTrips: [Duration]
    }

    /// Runs the check against `url` (its transport: UDP, TCP or TLS) with long-term or REST credentials.
    public static func run(
        _ url: STUNServerURL, username: String, password: String, dataPath: TURNDataPath = .channel,
        packets: Int = 5, timeout: Duration = .seconds(5), trust: TLSTrust = .systemDefault,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Result {
        guard let server = url.resolve() else { throw TURNRelayCheckError.resolutionFailed(url.host) }
        let serverName = url.tlsServerName
        var links: [MessageLink] = []
        var clients: [TURNAllocationClient] = []
        do {
            for _ in 0..<2 {
                links.append(
                    try await MessageLink.open(
                        to: server, transport: url.transport, serverName: serverName, trust: trust, group: group))
                clients.append(
                    TURNAllocationClient(
                        authentication: TURNClientAuthentication(username: username, password: password),
                        dataPath: dataPath))
            }
            let result = try await exchange(
                links, &clients, deadline: ContinuousClock.now + timeout, packets: packets,
                padded: url.transport != .udp)
            await release(links, &clients)
            return result
        } catch {
            await release(links, &clients)
            throw error
        }
    }

    /// Allocates twice, binds each allocation to the other's relayed address, and passes the packets.
    private static func exchange(
        _ links: [MessageLink], _ clients: inout [TURNAllocationClient], deadline: ContinuousClock.Instant,
        packets: Int, padded: Bool
    ) async throws -> Result {
        var relayed: [TransportAddress] = []
        for index in 0..<2 {
            let request = clients[index].allocate()
            guard case .allocated(let address) = try await transact(links[index], &clients[index], request, deadline)
            else { throw TURNRelayCheckError.refused(failure(clients[index])) }
            relayed.append(address)
        }
        for index in 0..<2 {
            let request = clients[index].bind(to: relayed[1 - index])
            guard case .bound = try await transact(links[index], &clients[index], request, deadline) else {
                throw TURNRelayCheckError.refused(failure(clients[index]))
            }
        }
        var roundTrips: [Duration] = []
        for number in 0..<packets {
            var payload = ByteBuffer(string: "PartyLine relay check \(number) ")
            payload.writeInteger(UInt64.random(in: 0...UInt64.max))
            let started = ContinuousClock.now
            guard try await pass(payload, from: (links[0], clients[0]), to: (links[1], clients[1]), padded),
                try await pass(payload, from: (links[1], clients[1]), to: (links[0], clients[0]), padded)
            else { continue }
            roundTrips.append(ContinuousClock.now - started)
        }
        guard !roundTrips.isEmpty else { throw TURNRelayCheckError.nothingRelayed(sent: packets) }
        return Result(relayed: relayed, mapped: clients[0].mappedAddress, sent: packets, roundTrips: roundTrips)
    }

    /// Deletes every allocation made (Refresh LIFETIME 0, a second at most each), then closes the links:
    /// a failed check leaves nothing behind on the server to count against the user's quota.
    private static func release(_ links: [MessageLink], _ clients: inout [TURNAllocationClient]) async {
        for index in clients.indices where clients[index].relayedAddress != nil {
            let request = clients[index].release()
            _ = try? await transact(links[index], &clients[index], request, ContinuousClock.now + .seconds(1))
        }
        for link in links { await link.close() }
    }

    /// Sends `payload` through `from`'s relay and waits up to a second for it to arrive at `to`.
    private static func pass(
        _ payload: ByteBuffer, from: (MessageLink, TURNAllocationClient), to: (MessageLink, TURNAllocationClient),
        _ padded: Bool
    ) async throws -> Bool {
        var bytes = ByteBuffer()
        from.1.wrap(payload, padded: padded, into: &bytes)
        try await from.0.send(bytes)
        let deadline = NIODeadline.now() + .seconds(1)
        while true {
            let remaining = deadline - .now()
            guard remaining > .zero, let message = try await to.0.next(within: remaining) else { return false }
            if to.1.unwrap(message) == payload { return true }
        }
    }

    /// Sends `request` and returns what its final response meant, answering a challenge on the way and
    /// retransmitting over UDP on RFC 8489's schedule (RTO 500 ms, doubling) until `deadline`.
    private static func transact(
        _ link: MessageLink, _ client: inout TURNAllocationClient, _ request: ByteBuffer,
        _ deadline: ContinuousClock.Instant
    ) async throws -> TURNAllocationClient.Step {
        let reliable = link.transport != .udp
        var rto = Duration.milliseconds(500)
        var resend = ContinuousClock.now + rto
        try await link.send(request)
        while ContinuousClock.now < deadline {
            let until = reliable ? deadline : min(resend, deadline)
            guard let message = try await link.next(within: TimeAmount(until - ContinuousClock.now)) else {
                if !reliable, ContinuousClock.now >= resend, let again = client.outstandingRequest {
                    try await link.send(again)
                    rto *= 2
                    resend = ContinuousClock.now + rto
                }
                continue
            }
            switch client.handle(response: message) {
            case .retry(let signed)?:
                rto = .milliseconds(500)
                resend = ContinuousClock.now + rto
                try await link.send(signed)
            case let step?:
                return step
            case nil:
                continue
            }
        }
        throw TURNRelayCheckError.timedOut("\(request.stunMethodName)")
    }

    private static func failure(_ client: TURNAllocationClient) -> String {
        if case .failed(let reason) = client.phase { return reason }
        return "unexpected answer"
    }
}

extension ByteBuffer {
    /// The method of the STUN request in these bytes, for messages.
    fileprivate var stunMethodName: String {
        (try? STUNMessageView(datagram: self)).map { "\($0.type.method) request" } ?? "request"
    }
}
