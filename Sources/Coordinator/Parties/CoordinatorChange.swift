/// One row-level change the coordinator's state made, in order; storage applies a batch of them in one
/// transaction, and the state is rebuilt from the stored rows at start-up.
public enum CoordinatorChange: Sendable, Hashable {
    case accountCreated(AccountRecord)
    /// A party and its secret assignment seed (revealed at the start).
    case partyCreated(Party, seed: [UInt8])
    case registered(Registration)
    case deregistered(party: String, account: String)
    case ledgerEntry(DepositBook.Entry)
    /// A party's groups at its start, in order, and the families the assignment kept apart.
    case partyStarted(party: String, groups: [[String]], families: [String: String], at: Int64)
    /// A group found undersized, or new groups formed from the members waiting.
    case groupEvent(GroupEvent)
    case groupSession(party: String, group: Int, session: String, tokens: [String: String])
    /// A verifier's vote, recorded before the verifier is told it counts.
    case vote(CastVote)
    case outcome(party: String, account: String, outcome: RegistrantOutcome, at: Int64)
    /// An account's latest validation (inserted or replaced).
    case validation(Validation)
    case linkDeclared(ManagedLink)
    case linkWithdrawn(controller: String, managed: String)
    /// A challenge as filed or resolved (inserted or replaced).
    case challenge(RegistryChallenge)
    /// An account's history line; `position` is its index in that account's history.
    case registryEvent(RegistryEvent, position: Int)
}

/// A known account: its key and when it first logged in.
public struct AccountRecord: Sendable, Hashable, Codable {
    public let id: String
    public let algorithm: KeyAlgorithm
    public let publicKey: [UInt8]
    public let createdAt: Int64

    public init(key: AccountKey, createdAt: Int64) {
        id = key.accountID
        algorithm = key.algorithm
        publicKey = Array(key.publicKey)
        self.createdAt = createdAt
    }

    public init(id: String, algorithm: KeyAlgorithm, publicKey: [UInt8], createdAt: Int64) {
        self.id = id
        self.algorithm = algorithm
        self.publicKey = publicKey
        self.createdAt = createdAt
    }
}

/// A change to a started party's groups, numbered per party in the order they happened.
public struct GroupEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// Group `group` had fewer members present than the minimum; `members[0]` are those present.
        case undersized
        /// New groups, numbered from `group` on, formed from waiting members; `members` are the groups.
        case regrouped
    }

    public let party: String
    public let sequence: Int
    public let kind: Kind
    public let group: Int
    public let members: [[String]]
    public let at: Int64

    public init(party: String, sequence: Int, kind: Kind, group: Int, members: [[String]], at: Int64) {
        self.party = party
        self.sequence = sequence
        self.kind = kind
        self.group = group
        self.members = members
        self.at = at
    }
}

/// One verifier's vote in one turn of a group's session.
public struct CastVote: Sendable, Hashable, Codable {
    public let party: String
    public let group: Int
    public let session: String
    public let turn: Int
    public let account: String
    public let vote: String
    public let at: Int64

    public init(party: String, group: Int, session: String, turn: Int, account: String, vote: String, at: Int64) {
        self.party = party
        self.group = group
        self.session = session
        self.turn = turn
        self.account = account
        self.vote = vote
        self.at = at
    }
}
