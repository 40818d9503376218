import Coordinator
import Shared
import Signalling
import Testing

@Suite("Published assignments verify, and tampered ones do not")
struct PublishedAssignmentTests {
    static func published(seed: [UInt8] = Array(repeating: 5, count: 32)) -> PublishedAssignment {
        let accounts = (0..<20).map { "account-\($0)" }
        let families = ["account-1": "account-0", "account-0": "account-0"]
        return PublishedAssignment(
            party: "p", seed: Hex.encode(seed), seedCommitment: Assignment.commitment(to: seed), groupSize: 6,
            accounts: accounts, families: families,
            groups: Assignment.groups(accounts: accounts, seed: seed, groupSize: 6, family: families))
    }

    @Test("an honest assignment verifies; another seed, a swapped member or a dropped family do not")
    func verification() throws {
        let honest = Self.published()
        #expect(try honest.verify() == honest.groups)
        let otherSeed = Self.published(seed: Array(repeating: 6, count: 32))
        let wrongCommitment = PublishedAssignment(
            party: "p", seed: otherSeed.seed, seedCommitment: honest.seedCommitment, groupSize: 6,
            accounts: honest.accounts, families: honest.families, groups: honest.groups)
        #expect(throws: PublishedAssignment.Mismatch.self) { try wrongCommitment.verify() }
        var swapped = honest.groups
        (swapped[0][0], swapped[1][0]) = (swapped[1][0], swapped[0][0])
        let tampered = PublishedAssignment(
            party: "p", seed: honest.seed, seedCommitment: honest.seedCommitment, groupSize: 6,
            accounts: honest.accounts, families: honest.families, groups: swapped)
        #expect(throws: PublishedAssignment.Mismatch.groups(index: 0)) { try tampered.verify() }
        let noSeed = PublishedAssignment(
            party: "p", seed: "zz", seedCommitment: honest.seedCommitment, groupSize: 6, accounts: honest.accounts,
            families: [:], groups: honest.groups)
        #expect(throws: PublishedAssignment.Mismatch.malformedSeed) { try noSeed.verify() }
    }
}
