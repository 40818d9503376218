import Configuration
import RelayServer
import STUN
import TURN

extension TURNConfiguration {
    /// Reads the `turn.*` keys; see `config/partyline.example.yaml`.
    init(reader: ConfigReader) throws {
        let defaults = TURNConfiguration()
        func list(_ key: ConfigKey) -> [String] {
            (reader.stringArray(forKey: key) ?? []).flatMap { $0.split(separator: ",") }
                .map { String($0).trimmingWhitespace }.filter { !$0.isEmpty }
        }
        var users: [String: String] = [:]
        for entry in try reader.secretList("turn.users") {
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex else {
                throw ConfigurationError("turn.users entries are user:password")
            }
            users[String(entry[..<colon])] = String(entry[entry.index(after: colon)...])
        }
        // `10.0.0.5` or, behind a 1:1 NAT, `10.0.0.5=203.0.113.7` (bind there, advertise this); only an
        // advertised address may stand behind a wildcard bind address.
        var advertised: [IPAddress: IPAddress] = [:]
        let relayAddresses = try list("turn.relay.addresses").map { text in
            let parts = text.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2, let ip = IPAddress(parsing: parts[0]) else {
                throw ConfigurationError("turn.relay.addresses: '\(text)' is not ADDRESS or ADDRESS=PUBLIC")
            }
            if parts.count == 2 {
                guard let publicIP = IPAddress(parsing: parts[1]), !publicIP.isUnspecified,
                    publicIP.family == ip.family
                else {
                    throw ConfigurationError(
                        "turn.relay.addresses: '\(text)' needs a public address of the same family")
                }
                advertised[ip] = publicIP
            } else if ip.isUnspecified {
                throw ConfigurationError("turn.relay.addresses: '\(text)' is a wildcard; give its public address")
            }
            return ip
        }
        var limits = AllocationLimits()
        limits.defaultLifetime = UInt32(
            clamping: reader.int(forKey: "turn.lifetime.default", default: Int(limits.defaultLifetime)))
        limits.maxLifetime = UInt32(clamping: reader.int(forKey: "turn.lifetime.max", default: Int(limits.maxLifetime)))
        limits.maxAllocationsPerUser = reader.int(forKey: "turn.quota.perUser", default: limits.maxAllocationsPerUser)
        limits.maxAllocations = reader.int(forKey: "turn.quota.total", default: limits.maxAllocations)
        limits.maxConnectionsPerAllocation = reader.int(
            forKey: "turn.quota.connectionsPerAllocation", default: limits.maxConnectionsPerAllocation)
        limits.maxPermissionsPerAllocation = reader.int(
            forKey: "turn.quota.permissionsPerAllocation", default: limits.maxPermissionsPerAllocation)
        limits.requestsPerSecondPerIP = reader.double(
            forKey: "turn.rateLimit.requestsPerSecond", default: limits.requestsPerSecondPerIP)
        limits.requestBurstPerIP = reader.double(forKey: "turn.rateLimit.burst", default: limits.requestBurstPerIP)
        let bandwidth = reader.int(forKey: "turn.bandwidth.bytesPerSecond", default: 0)
        limits.maxBytesPerSecondPerAllocation = bandwidth > 0 ? bandwidth : nil
        switch reader.string(forKey: "turn.channelNumbers", default: "rfc5766") {
        case "rfc5766": limits.channelNumbers = ChannelData.rfc5766Channels
        case "rfc8656": limits.channelNumbers = ChannelData.validChannels
        case let other: throw ConfigurationError("turn.channelNumbers: '\(other)' is neither rfc5766 nor rfc8656")
        }
        guard limits.defaultLifetime > 0, limits.defaultLifetime <= limits.maxLifetime else {
            throw ConfigurationError("turn.lifetime.default must be positive and at most turn.lifetime.max")
        }
        self.init(
            realm: reader.string(forKey: "turn.realm", default: defaults.realm),
            staticUsers: users,
            restSecrets: try reader.secretList("turn.secrets"),
            relayAddresses: relayAddresses, advertisedRelayAddresses: advertised,
            relayPorts: try Self.portRange(reader.string(forKey: "turn.relay.ports")) ?? defaults.relayPorts,
            limits: limits,
            allowedPeers: try reader.networks("turn.peers.allowed") ?? [],
            deniedPeers: defaults.deniedPeers + (try reader.networks("turn.peers.denied") ?? []),
            nonceLifetime: UInt64(reader.int(forKey: "turn.nonceLifetime", default: Int(defaults.nonceLifetime))))
        udpSegmentation = reader.bool(forKey: "turn.udpSegmentation")
        if let text = reader.string(forKey: "turn.alternateServer"), !text.isEmpty {
            guard let hostPort = HostPort(parsing: text.trimmingWhitespace, defaultPort: 3478),
                let ip = IPAddress(parsing: hostPort.host), !ip.isUnspecified
            else {
                throw ConfigurationError(
                    "turn.alternateServer: '\(text)' is not IP:PORT (ALTERNATE-SERVER carries an address)")
            }
            alternateServer = TransportAddress(ip: ip, port: UInt16(hostPort.port))
        }
    }

    /// `49152-65535`: at least one port, none below 1024.
    static func portRange(_ text: String?) throws -> ClosedRange<UInt16>? {
        guard let text else { return nil }
        let bounds = text.split(separator: "-").compactMap { UInt16($0.trimmingWhitespace) }
        guard bounds.count == 2, bounds[0] >= 1024, bounds[0] <= bounds[1] else {
            throw ConfigurationError("turn.relay.ports: '\(text)' is not a range like 49152-65535")
        }
        return bounds[0]...bounds[1]
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
