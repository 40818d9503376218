import Shared

/// A started party's assignment as the server publishes it: everything needed to re-derive the groups.
public struct PublishedAssignment: Sendable, Hashable, Codable {
    public let party: String
    /// Hex of the seed revealed at the start.
    public let seed: String
    /// Hex SHA-256 of the seed, published when registration opened.
    public let seedCommitment: String
    public let groupSize: Int
    /// The registered accounts, sorted by their bytes.
    public let accounts: [String]
    /// The families kept apart (account → controller), as they were at the start.
    public let families: [String: String]
    public let groups: [[String]]

    public init(
        party: String, seed: String, seedCommitment: String, groupSize: Int, accounts: [String],
        families: [String: String], groups: [[String]]
    ) {
        self.party = party
        self.seed = seed
        self.seedCommitment = seedCommitment
        self.groupSize = groupSize
        self.accounts = accounts
        self.families = families
        self.groups = groups
    }

    /// Why a published assignment does not check out.
    public enum Mismatch: Error, Sendable, Hashable, CustomStringConvertible {
        case malformedSeed
        case commitment(expected: String, derived: String)
        case groups(index: Int?)

        public var description: String {
            switch self {
            case .malformedSeed: "the seed is not hexadecimal"
            case .commitment(let expected, let derived):
                "SHA-256 of the seed is \(derived), but the commitment was \(expected)"
            case .groups(let index?): "group \(index) differs from the one derived"
            case .groups(nil): "the number of groups differs from the one derived"
            }
        }
    }

    /// Re-derives the groups from the seed and the accounts; the derived groups if they match.
    public func verify() throws(Mismatch) -> [[String]] {
        guard let seed = Hex.decode(seed) else { throw .malformedSeed }
        let derivedCommitment = Assignment.commitment(to: seed)
        guard derivedCommitment == seedCommitment else {
            throw .commitment(expected: seedCommitment, derived: derivedCommitment)
        }
        let derived = Assignment.groups(accounts: accounts, seed: seed, groupSize: groupSize, family: families)
        guard derived.count == groups.count else { throw .groups(index: nil) }
        if let index = derived.indices.first(where: { derived[$0] != groups[$0] }) { throw .groups(index: index) }
        return derived
    }
}
