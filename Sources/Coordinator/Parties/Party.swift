import Foundation
import Shared

/// A party as the coordinator publishes it. Times are seconds since the Unix epoch; amounts are integer
/// base units of the deposit currency.
public struct Party: Sendable, Hashable, Codable {
    public let id: String
    public let name: String
    /// IANA time zone the party is announced in (a label for clients; times are absolute).
    public let timeZone: String
    public let registrationOpensAt: Int64
    public let registrationClosesAt: Int64
    public let startsAt: Int64
    /// Seconds the party lasts.
    public let duration: Int64
    public let groupSize: Int
    /// Meters that must separate any two registrations.
    public let minimumDistance: Double
    /// The deposit locked at registration.
    public let deposit: Int64
    /// Thousandths of the deposit slashed for a failed validation or a no-show.
    public let slashPermille: Int
    /// Hex SHA-256 of the assignment seed, published from creation on.
    public let seedCommitment: String
    public let createdAt: Int64

    public init(id: String, draft: PartyDraft, seedCommitment: String, createdAt: Int64) {
        self.id = id
        name = draft.name
        timeZone = draft.timeZone
        registrationOpensAt = draft.registrationOpensAt
        registrationClosesAt = draft.registrationClosesAt
        startsAt = draft.startsAt
        duration = draft.duration
        groupSize = draft.groupSize
        minimumDistance = draft.minimumDistance
        deposit = draft.deposit
        slashPermille = draft.slashPermille
        self.seedCommitment = seedCommitment
        self.createdAt = createdAt
    }

    /// Whether registrations are accepted at `now`.
    public func isRegistrationOpen(at now: Int64) -> Bool {
        (registrationOpensAt..<registrationClosesAt).contains(now)
    }
}

/// What an admin asks for when creating a party; ``validated()`` applies the rules.
public struct PartyDraft: Sendable, Hashable, Codable {
    public var name: String
    public var timeZone: String
    public var registrationOpensAt: Int64
    public var registrationClosesAt: Int64
    public var startsAt: Int64
    public var duration: Int64
    public var groupSize: Int
    public var minimumDistance: Double
    public var deposit: Int64
    public var slashPermille: Int

    public init(
        name: String, timeZone: String = "UTC", registrationOpensAt: Int64, registrationClosesAt: Int64,
        startsAt: Int64, duration: Int64 = 3600, groupSize: Int = 6, minimumDistance: Double = 100, deposit: Int64 = 0,
        slashPermille: Int = 0
    ) {
        self.name = name
        self.timeZone = timeZone
        self.registrationOpensAt = registrationOpensAt
        self.registrationClosesAt = registrationClosesAt
        self.startsAt = startsAt
        self.duration = duration
        self.groupSize = groupSize
        self.minimumDistance = minimumDistance
        self.deposit = deposit
        self.slashPermille = slashPermille
    }

    /// The draft if every field is acceptable; otherwise the first problem, naming the field.
    public func validated() throws(PartyDraftError) -> PartyDraft {
        guard !name.isEmpty, name.count <= 200 else { throw .init(field: "name", "1 to 200 characters") }
        guard TimeZone(identifier: timeZone) != nil else { throw .init(field: "timeZone", "an IANA time zone") }
        guard registrationOpensAt < registrationClosesAt else {
            throw .init(field: "registrationClosesAt", "after registrationOpensAt")
        }
        guard registrationClosesAt <= startsAt else {
            throw .init(field: "startsAt", "at or after registration closes")
        }
        guard (60...86_400).contains(duration) else { throw .init(field: "duration", "60 to 86400 seconds") }
        // A remainder can make a group one larger, and a signalling session holds at most 12 members.
        guard (4...11).contains(groupSize) else { throw .init(field: "groupSize", "4 to 11") }
        guard minimumDistance.isFinite, (1...100_000).contains(minimumDistance) else {
            throw .init(field: "minimumDistance", "1 to 100000 meters")
        }
        guard deposit >= 0 else { throw .init(field: "deposit", "zero or more base units") }
        guard (0...1000).contains(slashPermille) else { throw .init(field: "slashPermille", "0 to 1000") }
        return self
    }
}

extension PartyDraft {
    enum CodingKeys: String, CodingKey {
        case name, timeZone, registrationOpensAt, registrationClosesAt, startsAt, duration, groupSize
        case minimumDistance, deposit, slashPermille
    }

    /// Decodes a draft; the fields with defaults may be omitted.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try values.decode(String.self, forKey: .name),
            timeZone: try values.decodeIfPresent(String.self, forKey: .timeZone) ?? "UTC",
            registrationOpensAt: try values.decode(Int64.self, forKey: .registrationOpensAt),
            registrationClosesAt: try values.decode(Int64.self, forKey: .registrationClosesAt),
            startsAt: try values.decode(Int64.self, forKey: .startsAt),
            duration: try values.decodeIfPresent(Int64.self, forKey: .duration) ?? 3600,
            groupSize: try values.decodeIfPresent(Int.self, forKey: .groupSize) ?? 6,
            minimumDistance: try values.decodeIfPresent(Double.self, forKey: .minimumDistance) ?? 100,
            deposit: try values.decodeIfPresent(Int64.self, forKey: .deposit) ?? 0,
            slashPermille: try values.decodeIfPresent(Int.self, forKey: .slashPermille) ?? 0)
    }
}

/// A party draft field that breaks a rule.
public struct PartyDraftError: Error, Sendable, Hashable {
    public let field: String
    public let expected: String

    init(field: String, _ expected: String) {
        self.field = field
        self.expected = expected
    }
}
