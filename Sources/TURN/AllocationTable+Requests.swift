import NIOCore
import STUN

extension AllocationTable {
    /// Handles a validated message from a client: TURN requests and Send indications (Binding is the
    /// Binding responder's). Returns what to send and to open.
    public mutating func handle(
        _ view: STUNMessageView, from fiveTuple: FiveTuple, now: Instant, unixTime: UInt64
    ) -> [Action] {
        if view.type == STUNMessageType(method: .send, messageClass: .indication) {
            return (try? view.decode()).flatMap { send($0, from: fiveTuple, now: now) }.map { [$0] } ?? []
        }
        guard view.type.messageClass == .request else { return [] }
        let reply = Reply(view: view, fiveTuple: fiveTuple, software: software)
        guard let message = try? view.decode() else { return [reply.error(.badRequest)] }
        let identity: TURNAuthenticator.Identity
        switch authenticator.authenticate(view, message, client: fiveTuple.client, now: unixTime) {
        case .badRequest: return [reply.error(.badRequest)]
        case .challenge(let error, let attributes): return [reply.error(error, attributes)]
        case .authenticated(let authenticated): identity = authenticated
        }
        if isRevoked(identity) {
            return [reply.error(.unauthorized, authenticator.challengeAttributes(for: fiveTuple.client, now: unixTime))]
        }
        let signed = reply.signed(with: identity, message: message)
        if view.hasUnknownComprehensionRequiredAttributes {
            return [
                signed.error(.unknownAttribute, [.unknownAttributes(view.unknownComprehensionRequiredAttributes())])
            ]
        }
        if let existing = live(fiveTuple, now: now), existing.identity.username != identity.username {
            return [signed.error(.wrongCredentials)]
        }
        switch view.type.method {
        case .allocate: return allocate(message, identity: identity, reply: signed, fiveTuple: fiveTuple, now: now)
        case .refresh: return refresh(message, reply: signed, fiveTuple: fiveTuple, now: now)
        case .createPermission: return createPermission(message, reply: signed, fiveTuple: fiveTuple, now: now)
        case .channelBind: return channelBind(message, reply: signed, fiveTuple: fiveTuple, now: now)
        default: return [signed.error(.badRequest)]
        }
    }

    /// RFC 8656 §7.2.
    private mutating func allocate(
        _ message: STUNMessage, identity: TURNAuthenticator.Identity, reply: Reply, fiveTuple: FiveTuple, now: Instant
    ) -> [Action] {
        if let existing = live(fiveTuple, now: now) {
            guard existing.allocateTransaction == message.transactionID else {
                return [reply.error(.allocationMismatch)]
            }
            let remaining = UInt32(max(0, (existing.expires - now).components.seconds))
            return [reply.success(allocationAttributes(existing, lifetime: remaining))]
        }
        if let waiting = pending[fiveTuple] {
            // A retransmission is answered when the relay opens; another transaction is a mismatch.
            return waiting.transaction == message.transactionID ? [] : [reply.error(.allocationMismatch)]
        }
        guard case .requestedTransport(let proto) = message.attribute(.requestedTransport) else {
            return [reply.error(.badRequest)]
        }
        guard proto == 17 else { return [reply.error(.unsupportedTransportProtocol)] }
        if message.attribute(.reservationToken) != nil { return [reply.error(.insufficientCapacity)] }
        var family = AddressFamily.ipv4
        if case .requestedAddressFamily(let requested) = message.attribute(.requestedAddressFamily) {
            family = requested
        }
        let owner = identity.subject ?? identity.username
        let owned =
            allocations.values.filter { $0.owner == owner }.count + pending.values.filter { $0.owner == owner }.count
        guard owned < limits.maxAllocationsPerUser else { return [reply.error(.allocationQuotaReached)] }
        guard allocations.count + pending.count < limits.maxAllocations else {
            return [reply.error(.insufficientCapacity)]
        }
        pending[fiveTuple] = (message.transactionID, owner)
        let request = PendingAllocation(
            fiveTuple: fiveTuple, family: family, lifetime: lifetime(requested: message),
            request: message.transactionID,
            identity: identity, reply: reply)
        return [.openRelay(request)]
    }

    /// Completes an Allocate once the driver has a relay socket (or none: 508). If the allocation was
    /// revoked or replaced meanwhile, the new socket is closed again.
    public mutating func relayOpened(
        _ request: PendingAllocation, relayed: TransportAddress?, now: Instant
    ) -> [Action] {
        guard pending[request.fiveTuple]?.transaction == request.request else {
            return relayed.map { [.closeRelay($0)] } ?? []
        }
        pending[request.fiveTuple] = nil
        guard let relayed else { return [request.reply.error(.insufficientCapacity)] }
        guard !isRevoked(request.identity), live(request.fiveTuple, now: now) == nil else {
            return [.closeRelay(relayed), request.reply.error(.allocationMismatch)]
        }
        let allocation = Allocation(
            fiveTuple: request.fiveTuple, relayed: relayed, identity: request.identity,
            expires: now + .seconds(Int(request.lifetime)), allocateTransaction: request.request)
        allocations[request.fiveTuple] = allocation
        byRelay[relayed] = request.fiveTuple
        return [request.reply.success(allocationAttributes(allocation, lifetime: request.lifetime))]
    }

    private func allocationAttributes(_ allocation: Allocation, lifetime: UInt32) -> [STUNAttribute] {
        [.xorRelayedAddress(allocation.relayed), .lifetime(lifetime), .xorMappedAddress(allocation.fiveTuple.client)]
    }

    /// RFC 8656 §7.3: LIFETIME 0 deletes the allocation.
    private mutating func refresh(_ message: STUNMessage, reply: Reply, fiveTuple: FiveTuple, now: Instant) -> [Action]
    {
        guard live(fiveTuple, now: now) != nil else { return [reply.error(.allocationMismatch)] }
        if case .lifetime(0) = message.attribute(.lifetime) {
            return removeAllocation(fiveTuple) + [reply.success([.lifetime(0)])]
        }
        let granted = lifetime(requested: message)
        allocations[fiveTuple]?.expires = now + .seconds(Int(granted))
        return [reply.success([.lifetime(granted)])]
    }

    /// RFC 8656 §10.2: every XOR-PEER-ADDRESS must pass, then all are installed.
    private mutating func createPermission(
        _ message: STUNMessage, reply: Reply, fiveTuple: FiveTuple, now: Instant
    ) -> [Action] {
        guard let allocation = live(fiveTuple, now: now) else { return [reply.error(.allocationMismatch)] }
        let peers = message.attributes.compactMap { attribute -> TransportAddress? in
            if case .xorPeerAddress(let peer) = attribute { peer } else { nil }
        }
        guard !peers.isEmpty else { return [reply.error(.badRequest)] }
        for peer in peers {
            if let error = refusal(of: peer, for: allocation) { return [reply.error(error)] }
        }
        for peer in peers { allocations[fiveTuple]?.bindings.installPermission(for: peer.ip, now: now) }
        return [reply.success([])]
    }

    /// RFC 8656 §12.2.
    private mutating func channelBind(_ message: STUNMessage, reply: Reply, fiveTuple: FiveTuple, now: Instant)
        -> [Action]
    {
        guard let allocation = live(fiveTuple, now: now) else { return [reply.error(.allocationMismatch)] }
        guard case .channelNumber(let channel) = message.attribute(.channelNumber),
            case .xorPeerAddress(let peer) = message.attribute(.xorPeerAddress),
            ChannelData.validChannels.contains(channel)
        else { return [reply.error(.badRequest)] }
        if let error = refusal(of: peer, for: allocation) { return [reply.error(error)] }
        do {
            try allocations[fiveTuple]?.bindings.bind(channel: channel, to: peer, now: now)
        } catch {
            return [reply.error(.badRequest)]
        }
        return [reply.success([])]
    }

    /// RFC 8656 §11.2: a Send indication is relayed only with a permission; otherwise silently dropped.
    private func send(_ message: STUNMessage, from fiveTuple: FiveTuple, now: Instant) -> Action? {
        guard let allocation = live(fiveTuple, now: now),
            case .xorPeerAddress(let peer) = message.attribute(.xorPeerAddress),
            case .data(let data) = message.attribute(.data),
            allocation.bindings.hasPermission(for: peer.ip, now: now)
        else { return nil }
        return .toPeer(relay: allocation.relayed, peer: peer, data: data)
    }

    /// Client ChannelData (RFC 8656 §12.6): relayed to the channel's peer, or dropped.
    public func channelData(_ message: ChannelData, from fiveTuple: FiveTuple, now: Instant) -> Action? {
        guard let allocation = live(fiveTuple, now: now),
            let peer = allocation.bindings.peer(onChannel: message.channel, now: now),
            allocation.bindings.hasPermission(for: peer.ip, now: now)
        else { return nil }
        return .toPeer(relay: allocation.relayed, peer: peer, data: message.data)
    }

    /// A datagram from `peer` on the relay socket `relay` (RFC 8656 §11.3, §12.7): ChannelData when a
    /// channel is bound, a Data indication otherwise; dropped without a permission.
    public func peerData(_ data: ByteBuffer, from peer: TransportAddress, relay: TransportAddress, now: Instant)
        -> Action?
    {
        guard data.readableBytes <= Self.maxRelayedPayload, let fiveTuple = byRelay[relay],
            let allocation = live(fiveTuple, now: now), allocation.bindings.hasPermission(for: peer.ip, now: now)
        else { return nil }
        var out = ByteBuffer()
        if let channel = allocation.bindings.channel(forPeer: peer, now: now) {
            ChannelData(channel: channel, data: data).encode(into: &out, padded: fiveTuple.transport != .udp)
        } else {
            STUNMessage(
                type: STUNMessageType(method: .data, messageClass: .indication),
                attributes: [.xorPeerAddress(peer), .data(data)]
            ).encode(into: &out, fingerprint: true)
        }
        return .toClient(fiveTuple, out)
    }

    /// The largest peer datagram relayed: a Data indication around it must still fit STUN's 16-bit length.
    public static let maxRelayedPayload = 65_535 - 64

    /// Deletes expired allocations and forgets expired permissions and channels.
    public mutating func expire(now: Instant) -> [Action] {
        var actions: [Action] = []
        for (fiveTuple, allocation) in allocations where allocation.expires <= now {
            actions += removeAllocation(fiveTuple)
        }
        for fiveTuple in allocations.keys { allocations[fiveTuple]?.bindings.expire(now: now) }
        return actions
    }

    /// Refuses further requests from REST credentials whose subject starts with `subjectPrefix` and tears
    /// down their allocations, permissions and channels at once.
    public mutating func revoke(subjectPrefix: String) -> [Action] {
        revokedSubjectPrefixes.insert(subjectPrefix)
        pending = pending.filter { !$0.value.owner.hasPrefix(subjectPrefix) }
        return allocations.filter { $0.value.identity.subject?.hasPrefix(subjectPrefix) == true }.keys
            .flatMap { removeAllocation($0) }
    }

    private func isRevoked(_ identity: TURNAuthenticator.Identity) -> Bool {
        identity.subject.map { subject in revokedSubjectPrefixes.contains(where: subject.hasPrefix) } ?? false
    }

    private mutating func removeAllocation(_ fiveTuple: FiveTuple) -> [Action] {
        guard let allocation = allocations.removeValue(forKey: fiveTuple) else { return [] }
        byRelay[allocation.relayed] = nil
        return [.closeRelay(allocation.relayed)]
    }

    /// 443 for a peer of the other family, 403 for a refused address.
    private func refusal(of peer: TransportAddress, for allocation: Allocation) -> STUNErrorCode? {
        if peer.ip.family != allocation.relayed.ip.family { return .peerAddressFamilyMismatch }
        return peerPolicy.refusal(for: peer.ip) == nil ? nil : .forbidden
    }

    /// RFC 8656 §7.2: the requested LIFETIME, but at least the default and at most the maximum.
    private func lifetime(requested message: STUNMessage) -> UInt32 {
        guard case .lifetime(let requested) = message.attribute(.lifetime) else { return limits.defaultLifetime }
        return min(max(requested, limits.defaultLifetime), limits.maxLifetime)
    }
}

/// Builds responses to one request: SOFTWARE and FINGERPRINT always; MESSAGE-INTEGRITY(-SHA256), the
/// kind the request used, once the requester is authenticated.
struct Reply: Sendable {
    let method: STUNMethod
    let transactionID: TransactionID
    let fiveTuple: FiveTuple
    let software: String
    var sha256: Bool
    var key: STUNKey?

    init(view: STUNMessageView, fiveTuple: FiveTuple, software: String) {
        method = view.type.method
        transactionID = view.transactionID
        self.fiveTuple = fiveTuple
        self.software = software
        sha256 = view.messageIntegritySHA256Offset != nil
    }

    /// RFC 8489 §9.2.4: responses carry MESSAGE-INTEGRITY-SHA256 when the request did or when it named
    /// its password algorithm; otherwise MESSAGE-INTEGRITY, for RFC 5389 clients.
    func signed(with identity: TURNAuthenticator.Identity, message: STUNMessage) -> Reply {
        var copy = self
        copy.key = identity.key
        copy.sha256 = sha256 || message.attribute(.passwordAlgorithm) != nil
        return copy
    }

    func success(_ attributes: [STUNAttribute]) -> AllocationTable.Action {
        message(.successResponse, attributes)
    }

    func error(_ error: STUNErrorCode, _ attributes: [STUNAttribute] = []) -> AllocationTable.Action {
        message(.errorResponse, [.errorCode(error)] + attributes)
    }

    private func message(_ messageClass: STUNMessageClass, _ attributes: [STUNAttribute]) -> AllocationTable.Action {
        let message = STUNMessage(
            type: STUNMessageType(method: method, messageClass: messageClass), transactionID: transactionID,
            attributes: attributes + [.software(software)])
        let signing = key.map { STUNSigning(key: $0, algorithms: [sha256 ? .hmacSHA256 : .hmacSHA1]) }
        return .toClient(fiveTuple, message.encoded(signing: signing, fingerprint: true))
    }
}
