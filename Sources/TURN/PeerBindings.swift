import STUN

/// One allocation's permissions and channel bindings (RFC 8656 §9, §12), with time passed in.
///
/// Permissions are per peer IP (ports are ignored) and last 5 minutes unless refreshed by
/// CreatePermission or ChannelBind. Channel bindings last 10 minutes; a channel number and a peer address
/// belong to each other for as long as the binding lives, and for 5 more minutes after it expires neither
/// may be bound to anything else (§12.2), so late packets cannot reach the wrong peer.
public struct PeerBindings: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public static let permissionLifetime: Duration = .seconds(300)
    public static let channelLifetime: Duration = .seconds(600)
    public static let channelReuseDelay: Duration = .seconds(300)

    private struct Binding: Sendable {
        var peer: TransportAddress
        var expires: Instant
    }

    private var permissions: [IPAddress: Instant] = [:]
    private var channels: [UInt16: Binding] = [:]
    private var channelByPeer: [TransportAddress: UInt16] = [:]

    public init() {}

    /// Why a ChannelBind cannot be honoured; each is answered with 400 (RFC 8656 §12.2).
    public enum ChannelBindError: Error, Hashable, Sendable {
        case invalidChannelNumber
        /// The channel is bound, or was until less than 5 minutes ago, to another peer.
        case channelBoundToAnotherPeer
        /// The peer is bound, or was until less than 5 minutes ago, to another channel.
        case peerBoundToAnotherChannel
    }

    /// Installs or refreshes the permission for `peer` until `now` + 5 minutes.
    public mutating func installPermission(for peer: IPAddress, now: Instant) {
        permissions[peer] = now + Self.permissionLifetime
    }

    public func hasPermission(for peer: IPAddress, now: Instant) -> Bool {
        permissions[peer].map { now < $0 } ?? false
    }

    /// Binds `channel` to `peer` (or refreshes that binding) for 10 minutes and refreshes the peer's
    /// permission, as a successful ChannelBind does.
    public mutating func bind(
        channel: UInt16, to peer: TransportAddress, now: Instant,
        channels allowed: ClosedRange<UInt16> = ChannelData.validChannels
    ) throws(ChannelBindError) {
        guard allowed.contains(channel) else { throw .invalidChannelNumber }
        if let existing = channels[channel], existing.peer != peer, now < existing.expires + Self.channelReuseDelay {
            throw .channelBoundToAnotherPeer
        }
        if let other = channelByPeer[peer], other != channel, let binding = channels[other],
            now < binding.expires + Self.channelReuseDelay
        {
            throw .peerBoundToAnotherChannel
        }
        if let previous = channels[channel], previous.peer != peer { channelByPeer[previous.peer] = nil }
        if let other = channelByPeer[peer], other != channel { channels[other] = nil }
        channels[channel] = Binding(peer: peer, expires: now + Self.channelLifetime)
        channelByPeer[peer] = channel
        installPermission(for: peer.ip, now: now)
    }

    /// The peer a live channel is bound to: where client ChannelData on it goes.
    public func peer(onChannel channel: UInt16, now: Instant) -> TransportAddress? {
        guard let binding = channels[channel], now < binding.expires else { return nil }
        return binding.peer
    }

    /// The live channel bound to `peer`: how its data reaches the client (ChannelData rather than a Data
    /// indication).
    public func channel(forPeer peer: TransportAddress, now: Instant) -> UInt16? {
        guard let channel = channelByPeer[peer], let binding = channels[channel], now < binding.expires else {
            return nil
        }
        return channel
    }

    /// Forgets permissions that have expired and bindings whose reuse delay has passed.
    public mutating func expire(now: Instant) {
        permissions = permissions.filter { now < $0.value }
        for (channel, binding) in channels where now >= binding.expires + Self.channelReuseDelay {
            channels[channel] = nil
            if channelByPeer[binding.peer] == channel { channelByPeer[binding.peer] = nil }
        }
    }

    /// Live permissions and channels, for quotas and statistics.
    public func counts(now: Instant) -> (permissions: Int, channels: Int) {
        (permissions.values.filter { now < $0 }.count, channels.values.filter { now < $0.expires }.count)
    }
}
