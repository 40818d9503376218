import NIOCore
import STUN

extension AllocationTable {
    /// Handles a validated message from a client: TURN requests and Send indications (Binding is the
    /// Binding responder's). Returns what to send and to open.
    public mutating func handle(
        _ view: STUNMessageView, from fiveTuple: FiveTuple, now: Instant, unixTime: UInt64
    ) -> [Action] {
        let actions = decide(view, from: fiveTuple, now: now, unixTime: unixTime)
        // An Allocate waiting for its relay socket is answered, and counted, in relayOpened; a request left
        // unanswered (a retransmission while the socket opens, or over the rate) is counted where it is dropped.
        if view.type.messageClass == .request, !actions.isEmpty, !actions.contains(where: \.opensRelay) {
            statistics.record(view.type.method, actions)
        }
        return actions
    }

    private mutating func decide(
        _ view: STUNMessageView, from fiveTuple: FiveTuple, now: Instant, unixTime: UInt64
    ) -> [Action] {
        if view.type == STUNMessageType(method: .send, messageClass: .indication) {
            return (try? view.decode()).flatMap { send($0, from: fiveTuple, now: now) }.map { [$0] } ?? []
        }
        guard view.type.messageClass == .request else { return [] }
        // Over its limit, a client IP gets no answer: nothing to amplify, no HMAC spent.
        if let allowed = rateLimiter?.allow(fiveTuple.client.ip, now: now), !allowed {
            statistics.record(view.type.method, [])
            return []
        }
        let reply = Reply(view: view, fiveTuple: fiveTuple, software: software)
        guard let message = try? view.decode() else { return [reply.error(.badRequest)] }
        let identity: TURNAuthenticator.Identity
        switch authenticator.authenticate(view, message, client: fiveTuple.client, now: unixTime) {
        case .badRequest:
            statistics.refused(.malformed)
            return [reply.error(.badRequest)]
        case .challenge(let error, let attributes, let reason):
            statistics.refused(reason)
            return [reply.error(error, attributes)]
        case .authenticated(let authenticated): identity = authenticated
        }
        if isRevoked(identity) {
            statistics.refused(.revoked)
            return [reply.error(.unauthorized, authenticator.challengeAttributes(for: fiveTuple.client, now: unixTime))]
        }
        let signed = reply.signed(with: identity, message: message)
        if view.hasUnknownComprehensionRequiredAttributes {
            return [
                signed.error(.unknownAttribute, [.unknownAttributes(view.unknownComprehensionRequiredAttributes())])
            ]
        }
        if let existing = live(fiveTuple, now: now), existing.identity.username != identity.username {
            statistics.refused(.wrongCredentials)
            return [signed.error(.wrongCredentials)]
        }
        switch view.type.method {
        case .allocate: return allocate(message, identity: identity, reply: signed, fiveTuple: fiveTuple, now: now)
        case .refresh: return refresh(message, reply: signed, fiveTuple: fiveTuple, now: now)
        case .createPermission: return createPermission(message, reply: signed, fiveTuple: fiveTuple, now: now)
        case .channelBind: return channelBind(message, reply: signed, fiveTuple: fiveTuple, now: now)
        case .connect: return connect(message, reply: signed, fiveTuple: fiveTuple, now: now)
        case .connectionBind:
            return connectionBind(message, identity: identity, reply: signed, fiveTuple: fiveTuple, now: now)
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
            return [reply.success(allocationAttributes(existing, lifetime: remaining, unavailable: []))]
        }
        if let waiting = pending[fiveTuple] {
            // A retransmission is answered when the relay opens; another transaction is a mismatch.
            return waiting.transaction == message.transactionID ? [] : [reply.error(.allocationMismatch)]
        }
        // A draining server sends new allocations elsewhere (RFC 8489 §10: only once authenticated), or
        // turns them away as over capacity.
        if draining, !drainExempt.contains(where: { identity.isSubject(under: $0) }) {
            if let alternateServer { return [reply.error(.tryAlternate, [.alternateServer(alternateServer)])] }
            return [reply.error(.insufficientCapacity)]
        }
        guard case .requestedTransport(let proto) = message.attribute(.requestedTransport) else {
            return [reply.error(.badRequest)]
        }
        let relayedTransport: RelayedTransport
        switch proto {
        case 17:
            relayedTransport = .udp
        case 6:
            // RFC 6062 §5.1: TCP relaying needs a stream control connection and excludes UDP's options.
            guard fiveTuple.transport != .udp, message.attribute(.evenPort) == nil,
                message.attribute(.reservationToken) == nil, message.attribute(.dontFragment) == nil
            else { return [reply.error(.badRequest)] }
            relayedTransport = .tcp
        default:
            return [reply.error(.unsupportedTransportProtocol)]
        }
        let families: [AddressFamily]
        switch familyRequest(message) {
        case .failure(let error): return [reply.error(error)]
        case .success(let requested): families = requested
        }
        var evenPort = false
        var reserveNextPort = false
        if case .evenPort(let reserve) = message.attribute(.evenPort) { (evenPort, reserveNextPort) = (true, reserve) }
        var token: UInt64?
        if case .reservationToken(let value) = message.attribute(.reservationToken) {
            // RFC 8656 §7.2: a token names an address already chosen; it cannot be combined with choices.
            guard !evenPort, message.attribute(.requestedAddressFamily) == nil,
                message.attribute(.additionalAddressFamily) == nil
            else { return [reply.error(.badRequest)] }
            token = value
        }
        if let refusal = ledger.reserve(owner: identity.owner) { return [reply.error(refusal)] }
        pending[fiveTuple] = (message.transactionID, identity)
        let request = PendingAllocation(
            fiveTuple: fiveTuple, families: families, lifetime: lifetime(requested: message), evenPort: evenPort,
            reserveNextPort: reserveNextPort, reservationToken: token,
            dontFragment: message.attribute(.dontFragment) != nil, relayedTransport: relayedTransport,
            request: message.transactionID,
            identity: identity, reply: reply)
        return [.openRelay(request)]
    }

    /// The families an Allocate asks for (RFC 8656 §7.2, RFC 6156): IPv4 by default, one requested
    /// family, or IPv4 plus IPv6 when ADDITIONAL-ADDRESS-FAMILY names IPv6.
    private func familyRequest(_ message: STUNMessage) -> Result<[AddressFamily], STUNErrorCode> {
        let requested = message.attribute(.requestedAddressFamily)
        let additional = message.attribute(.additionalAddressFamily)
        switch (requested, additional) {
        case (.some, .some):
            return .failure(.badRequest)
        case (.requestedAddressFamily(let family)?, nil):
            return relayFamilies.contains(family) ? .success([family]) : .failure(.addressFamilyNotSupported)
        case (nil, .additionalAddressFamily(let family)?):
            guard family == .ipv6 else { return .failure(.badRequest) }
            // A dual allocation without an IPv6 relay still gets IPv4, with ADDRESS-ERROR-CODE for IPv6.
            return relayFamilies.contains(.ipv4) ? .success([.ipv4, .ipv6]) : .failure(.addressFamilyNotSupported)
        default:
            return relayFamilies.contains(.ipv4) ? .success([.ipv4]) : .failure(.addressFamilyNotSupported)
        }
    }

    /// Completes an Allocate once the driver has tried to open its relay sockets: `relayed` holds the
    /// addresses it got, in the order of ``PendingAllocation/families``, and `reservationToken` the token
    /// of a port it holds for EVEN-PORT's R flag. No address at all is 508. If the allocation was revoked
    /// or replaced meanwhile, the new sockets are closed again.
    public mutating func relayOpened(
        _ request: PendingAllocation, relayed: [TransportAddress], reservationToken: UInt64? = nil, now: Instant
    ) -> [Action] {
        let actions = answerAllocate(request, relayed: relayed, reservationToken: reservationToken, now: now)
        // A socket for an Allocate already answered (or abandoned) closes without a response: nothing to count.
        if actions.contains(where: { if case .toClient = $0 { true } else { false } }) {
            statistics.record(.allocate, actions)
        }
        return actions
    }

    private mutating func answerAllocate(
        _ request: PendingAllocation, relayed: [TransportAddress], reservationToken: UInt64?, now: Instant
    ) -> [Action] {
        guard pending[request.fiveTuple]?.transaction == request.request else {
            return relayed.map { .closeRelay($0) }
        }
        pending[request.fiveTuple] = nil
        guard let first = relayed.first, request.reservationToken != nil || first.ip.family == request.families[0]
        else {
            ledger.release(owner: request.identity.owner)
            return relayed.map { .closeRelay($0) } + [request.reply.error(.insufficientCapacity)]
        }
        guard !isRevoked(request.identity), live(request.fiveTuple, now: now) == nil else {
            ledger.release(owner: request.identity.owner)
            return relayed.map { .closeRelay($0) } + [request.reply.error(.allocationMismatch)]
        }
        let allocation = Allocation(
            fiveTuple: request.fiveTuple, relayedAddresses: relayed, relayedTransport: request.relayedTransport,
            identity: request.identity,
            expires: now + .seconds(Int(request.lifetime)), allocateTransaction: request.request)
        allocations[request.fiveTuple] = allocation
        if let cap = limits.maxBytesPerSecondPerAllocation, cap > 0 {
            // At least one largest datagram fits, or a cap below a packet would drop everything.
            let burst = Double(max(cap, Self.maxRelayedPayload))
            allocations[request.fiveTuple]?.bandwidth = TokenBucket(rate: Double(cap), burst: burst, now: now)
        }
        for address in relayed { byRelay[address] = request.fiveTuple }
        let unavailable =
            request.reservationToken == nil ? request.families.filter { allocation.relayed(for: $0) == nil } : []
        var attributes = allocationAttributes(allocation, lifetime: request.lifetime, unavailable: unavailable)
        if let reservationToken { attributes.append(.reservationToken(reservationToken)) }
        return [request.reply.success(attributes)]
    }

    /// ``relayOpened(_:relayed:reservationToken:now:)`` for a single-family allocation.
    public mutating func relayOpened(_ request: PendingAllocation, relayed: TransportAddress?, now: Instant)
        -> [Action]
    {
        relayOpened(request, relayed: relayed.map { [$0] } ?? [], now: now)
    }

    private func allocationAttributes(_ allocation: Allocation, lifetime: UInt32, unavailable: [AddressFamily])
        -> [STUNAttribute]
    {
        allocation.relayedAddresses.map { .xorRelayedAddress($0) }
            + unavailable.map { .addressErrorCode(family: $0, error: .addressFamilyNotSupported) }
            + [.lifetime(lifetime), .xorMappedAddress(allocation.fiveTuple.client)]
    }

    /// RFC 8656 §7.3: LIFETIME 0 deletes the allocation.
    private mutating func refresh(_ message: STUNMessage, reply: Reply, fiveTuple: FiveTuple, now: Instant) -> [Action]
    {
        guard let allocation = live(fiveTuple, now: now) else { return [reply.error(.allocationMismatch)] }
        if case .requestedAddressFamily(let family) = message.attribute(.requestedAddressFamily),
            allocation.relayed(for: family) == nil
        {
            return [reply.error(.peerAddressFamilyMismatch)]
        }
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
            if allocation.relayed(for: peer.ip.family) == nil { return [reply.error(.peerAddressFamilyMismatch)] }
            if let refusal = peerPolicy.permissionRefusal(for: peer.ip) {
                return [reply.error(.forbidden), .peerRefused(client: fiveTuple, peer: "\(peer.ip)", refusal)]
            }
        }
        if !hasRoom(for: peers.map(\.ip), in: allocation, now: now) { return [reply.error(.insufficientCapacity)] }
        for peer in peers { allocations[fiveTuple]?.bindings.installPermission(for: peer.ip, now: now) }
        return [reply.success([])]
    }

    /// RFC 8656 §12.2.
    private mutating func channelBind(_ message: STUNMessage, reply: Reply, fiveTuple: FiveTuple, now: Instant)
        -> [Action]
    {
        guard let allocation = live(fiveTuple, now: now) else { return [reply.error(.allocationMismatch)] }
        guard allocation.relayedTransport == .udp,
            case .channelNumber(let channel) = message.attribute(.channelNumber),
            case .xorPeerAddress(let peer) = message.attribute(.xorPeerAddress),
            limits.channelNumbers.contains(channel)
        else { return [reply.error(.badRequest)] }
        if allocation.relayed(for: peer.ip.family) == nil { return [reply.error(.peerAddressFamilyMismatch)] }
        if let refusal = peerPolicy.refusal(for: peer) {
            return [reply.error(.forbidden), .peerRefused(client: fiveTuple, peer: "\(peer)", refusal)]
        }
        if !hasRoom(for: [peer.ip], in: allocation, now: now) { return [reply.error(.insufficientCapacity)] }
        do {
            try allocations[fiveTuple]?.bindings.bind(
                channel: channel, to: peer, now: now, channels: limits.channelNumbers)
        } catch {
            return [reply.error(.badRequest)]
        }
        return [reply.success([])]
    }

    /// RFC 8656 §11.2: a Send indication is relayed only with a permission, to a peer the policy allows
    /// on that port; otherwise silently dropped.
    private mutating func send(_ message: STUNMessage, from fiveTuple: FiveTuple, now: Instant) -> Action? {
        guard case .xorPeerAddress(let peer) = message.attribute(.xorPeerAddress),
            case .data(let data) = message.attribute(.data), peerPolicy.refusal(for: peer) == nil,
            let index = allocations.index(forKey: fiveTuple),
            let relay = allocations.values[index].admitSend(to: peer, bytes: data.readableBytes, now: now)
        else { return nil }
        return .toPeer(relay: relay, peer: peer, data: data)
    }

    /// Client ChannelData (RFC 8656 §12.6): relayed to the channel's peer, or dropped. `mutating` only so
    /// that a driver holding the table in a class calls it in place rather than on a copy of the table.
    public mutating func channelData(_ message: ChannelData, from fiveTuple: FiveTuple, now: Instant) -> Action? {
        guard let index = allocations.index(forKey: fiveTuple),
            let route = allocations.values[index].admitChannelData(
                on: message.channel, bytes: message.data.readableBytes, now: now)
        else { return nil }
        return .toPeer(relay: route.relay, peer: route.peer, data: message.data)
    }

    /// A datagram from `peer` on the relay socket `relay` (RFC 8656 §11.3, §12.7): ChannelData when a
    /// channel is bound, a Data indication otherwise; dropped without a permission.
    public mutating func peerData(
        _ data: ByteBuffer, from peer: TransportAddress, relay: TransportAddress, now: Instant
    )
        -> Action?
    {
        var out = ByteBuffer()
        return peerData(data, from: peer, relay: relay, now: now, into: &out).map { .toClient($0, out) }
    }

    /// ``peerData(_:from:relay:now:)`` for the hot path: the message for the client is appended to `buffer`
    /// (one buffer serves a whole read burst) and the client's 5-tuple returned; nil when dropped.
    /// `mutating` only so that a driver holding the table in a class calls it in place, without a copy.
    public mutating func peerData(
        _ data: ByteBuffer, from peer: TransportAddress, relay: TransportAddress, now: Instant,
        into buffer: inout ByteBuffer
    ) -> FiveTuple? {
        guard data.readableBytes <= Self.maxRelayedPayload, let fiveTuple = byRelay[relay],
            let index = allocations.index(forKey: fiveTuple),
            let delivery = allocations.values[index].admitPeerData(from: peer, bytes: data.readableBytes, now: now)
        else { return nil }
        if case .channel(let channel) = delivery {
            ChannelData(channel: channel, data: data).encode(into: &buffer, padded: fiveTuple.transport != .udp)
        } else {
            STUNMessage(
                type: STUNMessageType(method: .data, messageClass: .indication),
                attributes: [.xorPeerAddress(peer), .data(data)]
            ).encode(into: &buffer, fingerprint: true)
        }
        return fiveTuple
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
        rateLimiter?.sweep(now: now)
        revokedSubjectPrefixes = revokedSubjectPrefixes.filter { now - $0.value < Self.revocationMemory }
        return actions + expireConnections(now: now)
    }

    /// Refuses further requests from REST credentials whose subject lies under `subjectPrefix` (segment by
    /// segment, see ``TURNAuthenticator/Identity/isSubject(under:)``) and tears down their allocations,
    /// permissions and channels at once.
    public mutating func revoke(subjectPrefix: String, now: Instant) -> [Action] {
        guard !subjectPrefix.isEmpty else { return [] }
        revokedSubjectPrefixes[subjectPrefix] = now
        for (fiveTuple, waiting) in pending where waiting.identity.isSubject(under: subjectPrefix) {
            pending[fiveTuple] = nil
            ledger.release(owner: waiting.identity.owner)
        }
        return allocations.filter { $0.value.identity.isSubject(under: subjectPrefix) }.keys
            .flatMap { removeAllocation($0) }
    }

    /// The client's TCP or TLS connection closed: its allocation goes with it (RFC 8656 §3.1); a data
    /// connection (RFC 6062) takes its peer connection with it.
    public mutating func connectionClosed(_ fiveTuple: FiveTuple) -> [Action] {
        if let waiting = pending.removeValue(forKey: fiveTuple) { ledger.release(owner: waiting.identity.owner) }
        return removeAllocation(fiveTuple) + closeConnection(boundTo: fiveTuple)
    }

    /// Looks up each segment prefix of the subject (`a`, `a/`, `a/b`, `a/b/`, ..., the whole subject), so the
    /// cost does not grow with the number of revocations.
    private func isRevoked(_ identity: TURNAuthenticator.Identity) -> Bool {
        guard let subject = identity.subject, !revokedSubjectPrefixes.isEmpty else { return false }
        if revokedSubjectPrefixes[subject] != nil { return true }
        var start = subject.startIndex
        while let slash = subject[start...].firstIndex(of: "/") {
            if revokedSubjectPrefixes[String(subject[..<slash])] != nil
                || revokedSubjectPrefixes[String(subject[...slash])] != nil
            {
                return true
            }
            start = subject.index(after: slash)
        }
        return false
    }

    private mutating func removeAllocation(_ fiveTuple: FiveTuple) -> [Action] {
        guard let allocation = allocations.removeValue(forKey: fiveTuple) else { return [] }
        ledger.release(owner: allocation.owner)
        for address in allocation.relayedAddresses { byRelay[address] = nil }
        return closeConnections(ofAllocation: fiveTuple) + allocation.relayedAddresses.map { .closeRelay($0) }
    }

    /// Whether `peers` fit in the allocation's permission quota (RFC 8656 §9: a server may limit them).
    private func hasRoom(for peers: [IPAddress], in allocation: Allocation, now: Instant) -> Bool {
        let added = Set(peers).filter { !allocation.bindings.hasPermission(for: $0, now: now) }.count
        return allocation.bindings.counts(now: now).permissions + added <= limits.maxPermissionsPerAllocation
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
