/// An account's registration for a party: its location commitment and when it was made.
public struct Registration: Sendable, Hashable, Codable {
    public let party: String
    public let account: String
    public let location: GeoPoint
    /// Free text the registrant gave (for example "north gate of the park"), at most 280 characters.
    public let description: String?
    public let registeredAt: Int64

    public init(party: String, account: String, location: GeoPoint, description: String?, registeredAt: Int64) {
        self.party = party
        self.account = account
        self.location = location
        self.description = description
        self.registeredAt = registeredAt
    }
}

/// Why a registration (or a deregistration) was refused; the raw value is the API's error code. The
/// coordinator's state is unchanged.
public enum RegistrationError: Error, Sendable, Hashable {
    case unknownParty
    case unknownAccount
    case registrationClosed
    case alreadyRegistered
    case notRegistered
    case invalidLocation
    case invalidDescription
    /// Another registration lies closer than the party's minimum distance.
    case locationTaken
    case insufficientDeposit(required: Int64, available: Int64)

    /// The error code clients act on.
    public var code: String {
        switch self {
        case .unknownParty: "party-not-found"
        case .unknownAccount: "account-not-found"
        case .registrationClosed: "registration-closed"
        case .alreadyRegistered: "already-registered"
        case .notRegistered: "not-registered"
        case .invalidLocation: "invalid-location"
        case .invalidDescription: "invalid-description"
        case .locationTaken: "location-taken"
        case .insufficientDeposit: "insufficient-deposit"
        }
    }
}
