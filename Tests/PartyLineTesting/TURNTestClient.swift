import NIOConcurrencyHelpers
import NIOCore
import RelayServer
import STUN
import TURN
import TURNClient

extension TURNConfiguration {
    /// Static users `alice`/`wonderland` and `bob`/`builder`, REST secret `north`, relay sockets on
    /// 127.0.0.1 and ::1 with ports below the kernel's ephemeral range, peers on loopback allowed unless
    /// `allowLoopbackPeers` is false.
    public static func loopback(allowLoopbackPeers: Bool = true, limits: AllocationLimits = AllocationLimits()) -> Self
    {
        TURNConfiguration(
            realm: "partyline.test", staticUsers: ["alice": "wonderland", "bob": "builder"], restSecrets: ["north"],
            relayAddresses: [IPAddress(parsing: "127.0.0.1")!, IPAddress(parsing: "::1")!],
            relayPorts: 20000...29999, limits: limits,
            allowedPeers: allowLoopbackPeers ? [IPNetwork(parsing: "127.0.0.0/8")!, IPNetwork(parsing: "::1")!] : [])
    }
}

/// A TURN client over a real UDP socket for tests: signs requests after the first 401, matches responses
/// by transaction, and keeps everything else (Data indications, ChannelData) for ``receive(timeout:)``.
public final class TURNTestClient: Sendable {
    public let socket: TestUDPSocket
    public let server: SocketAddress
    private let state: NIOLockedValueBox<TURNClientAuthentication>
    private let stash = NIOLockedValueBox<[ByteBuffer]>([])

    public init(server: SocketAddress, username: String, password: String, sha256: Bool = false) async throws {
        socket = try await TestUDPSocket.bind(ipv6: server.protocol == .inet6)
        self.server = server
        state = NIOLockedValueBox(TURNClientAuthentication(username: username, password: password, sha256: sha256))
    }

    public var authentication: TURNClientAuthentication { state.withLockedValue { $0 } }

    /// Signs what follows as another user, from the same socket (and so the same 5-tuple).
    public func authenticate(as username: String, password: String) {
        state.withLockedValue { $0 = TURNClientAuthentication(username: username, password: password) }
    }

    /// Sends a request and returns its final response, answering one 401 or 438 challenge on the way.
    public func request(_ method: STUNMethod, _ attributes: [STUNAttribute]) async throws -> STUNMessage {
        var response = try await exchange(method, attributes)
        if state.withLockedValue({ $0.learn(from: response) }) {
            response = try await exchange(method, attributes)
        }
        return response
    }

    /// One request and its response, without retrying.
    public func exchange(_ method: STUNMethod, _ attributes: [STUNAttribute], transactionID: TransactionID = .random())
        async throws -> STUNMessage
    {
        let bytes = state.withLockedValue {
            $0.message(
                STUNMessageType(method: method, messageClass: .request), attributes, transactionID: transactionID)
        }
        try await socket.send(bytes, to: server)
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            guard let datagram = try await socket.receive(timeout: deadline - .now) else { break }
            if let message = try? STUNMessage(datagram: datagram), message.transactionID == transactionID,
                message.type.messageClass != .request
            {
                return message
            }
            stash.withLockedValue { $0.append(datagram) }
        }
        throw TURNTestClientError.noResponse(method)
    }

    /// Allocates; returns the success response (or throws with the error response).
    @discardableResult
    public func allocate(_ extra: [STUNAttribute] = []) async throws -> STUNMessage {
        let response = try await request(.allocate, [.requestedTransport(17)] + extra)
        guard response.type.messageClass == .successResponse else { throw TURNTestClientError.refused(response) }
        return response
    }

    /// Sends a Send indication (signed like requests are, which servers accept and ignore).
    public func send(_ data: ByteBuffer, to peer: TransportAddress) async throws {
        let bytes = STUNMessage(
            type: STUNMessageType(method: .send, messageClass: .indication),
            attributes: [.xorPeerAddress(peer), .data(data)]
        ).encoded(fingerprint: true)
        try await socket.send(bytes, to: server)
    }

    /// Sends ChannelData on `channel`.
    public func send(_ data: ByteBuffer, channel: UInt16) async throws {
        var bytes = ByteBuffer()
        ChannelData(channel: channel, data: data).encode(into: &bytes, padded: false)
        try await socket.send(bytes, to: server)
    }

    /// Sends each of `payloads` as ChannelData on `channel`, back to back with one flush.
    public func sendBurst(_ payloads: [ByteBuffer], channel: UInt16) async throws {
        let datagrams = payloads.map { payload in
            var bytes = ByteBuffer()
            ChannelData(channel: channel, data: payload).encode(into: &bytes, padded: false)
            return bytes
        }
        try await socket.sendBurst(datagrams, to: server)
    }

    /// The next datagram that is not a response: a Data indication or ChannelData.
    public func receive(timeout: Duration = .seconds(2)) async throws -> ByteBuffer? {
        if let stashed = stash.withLockedValue({ $0.isEmpty ? nil : $0.removeFirst() }) { return stashed }
        return try await socket.receive(timeout: timeout)
    }

    public func close() async { await socket.close() }
}

public enum TURNTestClientError: Error {
    case noResponse(STUNMethod)
    case refused(STUNMessage)
}
