import TestRandom
import Testing

@testable import Coordinator

@Suite("Verifiable assignment")
struct AssignmentTests {
    let seed = Array("a party seed, revealed at the start".utf8)
    let accounts = (0..<100).map { "acct-\($0)" }

    @Test("the commitment is the seed's SHA-256")
    func commitment() {
        #expect(
            Assignment.commitment(to: Array("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("group sizes: never below the minimum, differing by at most one, everyone placed", arguments: 0...200)
    func sizes(count: Int) {
        let sizes = Assignment.groupSizes(count: count, groupSize: 6)
        if count < 4 {
            #expect(sizes.isEmpty)
        } else {
            #expect(sizes.reduce(0, +) == count)
            #expect(sizes.allSatisfy { $0 >= 4 && $0 <= 7 }, "\(sizes)")
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
    }

    @Test("the same seed and registrations give the same groups, whatever order they arrive in")
    func reproducible() {
        let groups = Assignment.groups(accounts: accounts, seed: seed, groupSize: 6)
        var shuffled = accounts
        var random = SplitMix64(state: 9)
        shuffled.shuffle(using: &random)
        #expect(Assignment.groups(accounts: shuffled + ["acct-3"], seed: seed, groupSize: 6) == groups)
        #expect(Set(groups.joined()) == Set(accounts) && groups.count == 16)
        let other = Assignment.groups(accounts: accounts, seed: Array("another seed".utf8), groupSize: 6)
        #expect(other != groups)
    }

    @Test("the random stream is the documented HMAC-SHA256 counter stream, and draws are in range")
    func stream() {
        var random = AssignmentRandom(seed: seed)
        var again = AssignmentRandom(seed: seed)
        let words = (0..<9).map { _ in random.next() }
        #expect(words == (0..<9).map { _ in again.next() })
        #expect(Set(words).count == 9)
        for bound in [1, 2, 3, 7, 1_000_003] as [UInt64] {
            #expect((0..<200).allSatisfy { _ in random.uniform(below: bound) < bound })
        }
    }

    @Test("a controller and the accounts it manages never share a group")
    func familiesApart() {
        var family: [String: String] = [:]
        for controller in ["acct-1", "acct-50"] {
            family[controller] = controller
            for managed in 0..<10 { family["\(controller)-m\(managed)"] = controller }
        }
        let everyone = accounts + family.keys.filter { !accounts.contains($0) }
        for seedByte in UInt8(0)..<20 {
            let groups = Assignment.groups(accounts: everyone, seed: [seedByte], groupSize: 6, family: family)
            #expect(Set(groups.joined()).count == everyone.count)
            for group in groups {
                let families = group.compactMap { family[$0] }
                #expect(Set(families).count == families.count, "seed \(seedByte): \(group)")
            }
        }
    }
}

extension AssignmentTests {
    @Test("accounts are ordered by their UTF-8 bytes, short before long, non-ASCII after ASCII")
    func byteOrder() {
        let texts = ["b", "ab", "a", "abcdefghij", "abcdefghi", "é", "Z", "abcdefgh", "abc\u{0}"]
        let sorted = Assignment.sortedByBytes(texts)
        #expect(sorted == texts.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(sorted.first == "Z" && sorted.last == "é")
    }
}
