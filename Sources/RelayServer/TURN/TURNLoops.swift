import Logging
import NIOCore
import NIOPosix
import STUN
import TURN

/// One ``TURNLoop`` per event loop of the server's group, found by the loop a channel runs on.
struct TURNLoops: Sendable {
    private let loops: [ObjectIdentifier: NIOLoopBound<TURNLoop>]
    let ledger: AllocationLedger
    /// The table every driver starts from (each gets its own copy with its own CONNECTION-ID prefix).
    let template: AllocationTable
    let relayHosts: [AddressFamily: TURNLoop.RelayHost]

    /// Builds a table and driver on every loop of `group` from `configuration`; `listeners` are the
    /// configured UDP addresses, used to choose relay addresses when none are configured. The loops segment
    /// UDP writes only with `segmentation` (a refused segmented write closes an event loop's socket).
    static func make(
        _ configuration: TURNConfiguration, software: String, listeners: [ListenAddress], group: any EventLoopGroup,
        segmentation: Bool, logger: Logger
    ) async throws -> TURNLoops {
        let relayIPs =
            try configuration.relayAddresses.isEmpty
            ? Self.defaultRelayAddresses(listeners: listeners) : configuration.relayAddresses
        var hosts: [AddressFamily: TURNLoop.RelayHost] = [:]
        for ip in relayIPs where hosts[ip.family] == nil {
            hosts[ip.family] = TURNLoop.RelayHost(
                ip: ip, advertised: configuration.advertisedRelayAddresses[ip] ?? ip,
                pool: RelayPortPool(range: configuration.relayPorts))
        }
        let ledger = AllocationLedger(
            maxPerOwner: configuration.limits.maxAllocationsPerUser, maxTotal: configuration.limits.maxAllocations)
        let authenticator = TURNAuthenticator(
            realm: configuration.realm, staticUsers: configuration.staticUsers,
            restSecrets: TURNRESTSecrets(configuration.restSecrets),
            nonces: NonceIssuer(lifetime: configuration.nonceLifetime))
        let policy = PeerAddressPolicy(
            denied: configuration.deniedPeers, allowed: configuration.allowedPeers,
            serverAddresses: Set(relayIPs + hosts.values.map(\.advertised)).filter { !$0.isUnspecified },
            relayPorts: configuration.relayPorts)
        var table = AllocationTable(
            authenticator: authenticator, peerPolicy: policy, limits: configuration.limits, ledger: ledger,
            relayFamilies: Set(hosts.keys), software: software)
        table.alternateServer = configuration.alternateServer
        let segmentation = segmentation && System.supportsUDPSegmentationOffload
        var loops: [ObjectIdentifier: NIOLoopBound<TURNLoop>] = [:]
        var siblings: [Int: NIOLoopBound<TURNLoop>] = [:]
        for (index, loop) in group.makeIterator().enumerated() {
            let hostsCopy = hosts
            var loopTable = table
            loopTable.connectionIDPrefix = UInt8(truncatingIfNeeded: index)
            let driver = try await loop.submit { [loopTable] in
                NIOLoopBound(
                    TURNLoop(
                        eventLoop: loop, table: loopTable, relayHosts: hostsCopy, segmentation: segmentation,
                        logger: logger), eventLoop: loop)
            }.get()
            loops[ObjectIdentifier(loop)] = driver
            siblings[index] = driver
        }
        for driver in siblings.values {
            let all = siblings
            try await driver.eventLoop.submit { driver.value.siblings = all }.get()
        }
        return TURNLoops(loops: loops, ledger: ledger, template: table, relayHosts: hosts)
    }

    /// The driver of `eventLoop`; call on that loop.
    func driver(for eventLoop: any EventLoop) -> TURNLoop? {
        loops[ObjectIdentifier(eventLoop)]?.value
    }

    var count: Int { loops.count }

    /// Runs `body` on every loop with its driver and collects the results.
    func onEveryLoop<T: Sendable>(_ body: @escaping @Sendable (TURNLoop) -> T) async -> [T] {
        var results: [T] = []
        for bound in loops.values {
            if let result = try? await bound.eventLoop.submit({ body(bound.value) }).get() { results.append(result) }
        }
        return results
    }

    /// Relay addresses when none are configured: the concrete UDP listener address of each family, or
    /// else the first address of an interface that is up and not loopback or link-local.
    static func defaultRelayAddresses(listeners: [ListenAddress]) throws -> [IPAddress] {
        var chosen: [AddressFamily: IPAddress] = [:]
        for listener in listeners {
            guard let ip = IPAddress(parsing: listener.host), !ip.isUnspecified, chosen[ip.family] == nil else {
                continue
            }
            chosen[ip.family] = ip
        }
        let devices = (try? System.enumerateDevices()) ?? []
        for device in devices {
            guard let address = device.address, let ip = TransportAddress(address)?.ip, chosen[ip.family] == nil,
                !ip.isLoopbackOrLinkLocal
            else { continue }
            chosen[ip.family] = ip
        }
        if chosen.isEmpty { chosen[.ipv4] = IPAddress(parsing: "127.0.0.1") }
        return [chosen[.ipv4], chosen[.ipv6]].compactMap { $0 }
    }
}
