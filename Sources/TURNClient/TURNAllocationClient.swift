import NIOCore
import STUN
import TURN

/// How application data travels between a TURN client and its relay (RFC 8656 §11 and §12).
public enum TURNDataPath: String, Sendable, CaseIterable {
    /// ChannelBind, then ChannelData both ways.
    case channel
    /// CreatePermission, then Send indications out and Data indications back.
    case indication
}

/// The client side of one TURN allocation as a plain value: Allocate (answering the server's challenge),
/// then a channel or permission toward a peer, then wrapping and unwrapping application data, and a
/// release. Bytes in, bytes out: the driver owns sockets, timers and retransmission.
public struct TURNAllocationClient: Sendable {
    /// Where the allocation stands.
    public enum Phase: Hashable, Sendable {
        case idle, allocating, allocated, binding, ready, releasing, released
        case failed(String)
    }

    /// What a response from the server meant.
    public enum Step: Hashable, Sendable {
        /// The server challenged (401) or changed the nonce (438): send these bytes instead.
        case retry(ByteBuffer)
        /// The allocation exists; `relayed` is the address peers reach it at.
        case allocated(relayed: TransportAddress)
        /// The channel or permission toward the peer is installed: data may flow.
        case bound
        /// The server confirmed the release.
        case released
        /// The request was refused or the answer was malformed; the allocation is unusable.
        case failed(String)
    }

    /// The channel number this client binds (RFC 8656 §12: the first valid one).
    public static let channel: UInt16 = ChannelData.validChannels.lowerBound

    public let dataPath: TURNDataPath
    public private(set) var phase = Phase.idle
    /// The relayed transport address from the Allocate success.
    public private(set) var relayedAddress: TransportAddress?
    /// The client's address as the server saw it (XOR-MAPPED-ADDRESS of the Allocate success).
    public private(set) var mappedAddress: TransportAddress?
    /// The peer the channel or permission names.
    public private(set) var peer: TransportAddress?
    /// The request awaiting its response, for a driver that retransmits over UDP.
    public private(set) var outstandingRequest: ByteBuffer?
    private var auth: TURNClientAuthentication
    private var transaction = TransactionID.random()
    private var lastRequest: (method: STUNMethod, attributes: [STUNAttribute]) = (.allocate, [])
    /// Challenges answered for the current request (the first 401 included): a server that keeps answering
    /// 438 cannot hold the client in a loop.
    private var retries = 0
    static let maximumRetries = 3

    public init(authentication: TURNClientAuthentication, dataPath: TURNDataPath) {
        self.auth = authentication
        self.dataPath = dataPath
    }

    /// The Allocate request for a UDP relay (REQUESTED-TRANSPORT 17).
    public mutating func allocate() -> ByteBuffer {
        phase = .allocating
        return request(.allocate, [.requestedTransport(17)])
    }

    /// The ChannelBind (channel path) or CreatePermission (indication path) toward `peer`.
    public mutating func bind(to peer: TransportAddress) -> ByteBuffer {
        self.peer = peer
        phase = .binding
        return dataPath == .channel
            ? request(.channelBind, [.channelNumber(Self.channel), .xorPeerAddress(peer)])
            : request(.createPermission, [.xorPeerAddress(peer)])
    }

    /// Refresh with LIFETIME 0: the server deletes the allocation now rather than when it expires.
    public mutating func release() -> ByteBuffer {
        phase = .releasing
        return request(.refresh, [.lifetime(0)])
    }

    /// Interprets a STUN message from the server; nil when it does not answer the outstanding request.
    /// Once requests are signed, a success must carry this client's MESSAGE-INTEGRITY and a response with a
    /// wrong one is ignored as if never received (RFC 8489 §9.2.5); an unsigned error still ends the request
    /// (401 and 438 are unsigned by rule, and a forged refusal costs no more than a dropped answer would).
    public mutating func handle(response bytes: ByteBuffer) -> Step? {
        guard let view = try? STUNMessageView(datagram: bytes), view.transactionID == transaction,
            view.type.messageClass == .successResponse || view.type.messageClass == .errorResponse,
            view.type.method == lastRequest.method, let response = try? view.decode()
        else { return nil }
        switch auth.integrity(of: view) {
        case .invalid?: return nil
        case .absent? where view.type.messageClass == .successResponse: return nil
        default: break
        }
        outstandingRequest = nil
        if response.type.messageClass == .errorResponse {
            if retries < Self.maximumRetries, auth.learn(from: response) {
                retries += 1
                return .retry(request(lastRequest.method, lastRequest.attributes, retry: true))
            }
            if phase == .releasing, response.errorCode?.code == 437 {
                // RFC 8656 §7.3: the allocation is already gone (an earlier Refresh 0 whose answer was lost).
                phase = .released
                return .released
            }
            return fail("\(response.type.method) refused: \(response.errorCode.map { "\($0)" } ?? "no ERROR-CODE")")
        }
        switch phase {
        case .allocating:
            guard case .xorRelayedAddress(let relayed) = response.attribute(.xorRelayedAddress) else {
                return fail("Allocate success without XOR-RELAYED-ADDRESS")
            }
            relayedAddress = relayed
            mappedAddress = response.xorMappedAddress
            phase = .allocated
            return .allocated(relayed: relayed)
        case .binding:
            phase = .ready
            return .bound
        case .releasing:
            phase = .released
            return .released
        case .idle, .allocated, .ready, .released, .failed:
            return nil
        }
    }

    /// Appends `payload` for the peer as one ChannelData message or Send indication; `padded` rounds
    /// ChannelData up to four bytes, as TCP and TLS need.
    public func wrap(_ payload: ByteBuffer, padded: Bool, into buffer: inout ByteBuffer) {
        guard let peer else { return }
        switch dataPath {
        case .channel:
            ChannelData(channel: Self.channel, data: payload).encode(into: &buffer, padded: padded)
        case .indication:
            STUNMessage(
                type: STUNMessageType(method: .send, messageClass: .indication),
                attributes: [.xorPeerAddress(peer), .data(payload)]
            ).encode(into: &buffer)
        }
    }

    /// The peer's data inside a ChannelData message or Data indication from the server; nil for anything
    /// else, including data on another channel or from another peer.
    public func unwrap(_ bytes: ByteBuffer) -> ByteBuffer? {
        switch dataPath {
        case .channel:
            guard let message = try? ChannelData(decoding: bytes), message.channel == Self.channel else { return nil }
            return message.data
        case .indication:
            guard let message = try? STUNMessage(datagram: bytes), message.type.method == .data,
                message.type.messageClass == .indication,
                case .xorPeerAddress(let from)? = message.attribute(.xorPeerAddress), from == peer,
                case .data(let data)? = message.attribute(.data)
            else { return nil }
            return data
        }
    }

    private mutating func fail(_ reason: String) -> Step {
        phase = .failed(reason)
        return .failed(reason)
    }

    /// Encodes `method` with a fresh transaction, remembering it for a retry after a challenge.
    private mutating func request(_ method: STUNMethod, _ attributes: [STUNAttribute], retry: Bool = false)
        -> ByteBuffer
    {
        if !retry { retries = 0 }
        transaction = .random()
        lastRequest = (method, attributes)
        let bytes = auth.message(
            STUNMessageType(method: method, messageClass: .request), attributes, transactionID: transaction)
        outstandingRequest = bytes
        return bytes
    }
}
