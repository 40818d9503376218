import Crypto
import Shared

/// Publicly verifiable assignment of a party's registrants to groups. When registration opens the server
/// publishes ``commitment(to:)``; at the start it reveals the seed, and anyone holding the registration list
/// re-derives the same groups with ``groups(accounts:seed:groupSize:family:)``:
///
/// 1. Sort the accounts by their UTF-8 bytes.
/// 2. Shuffle them with Fisher–Yates (from the last position down), drawing each index uniformly below
///    `i + 1` by rejection from 64-bit words of ``AssignmentRandom`` (HMAC-SHA256 of the seed over a counter).
/// 3. Cut the order into ``groupSizes(count:groupSize:minimum:)``.
/// 4. Separate linked accounts: walking the groups and their positions in order, a member whose family
///    (controller) is already in its group swaps places with the first member of another group, searched
///    from the next group on and wrapping around, such that neither family then appears twice in either
///    group.
public enum Assignment {
    /// Hex SHA-256 of the seed: published before registration closes.
    public static func commitment(to seed: [UInt8]) -> String {
        SHA256.hash(data: seed).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Group sizes for `count` registrants, the larger ones first, differing by at most one: `count /
    /// groupSize` groups (some of `groupSize + 1`) when the remainder fits one extra member per group,
    /// otherwise one group more (some of `groupSize - 1` or less, never below `minimum`). Fewer than `minimum`
    /// registrants form no group.
    public static func groupSizes(count: Int, groupSize: Int, minimum: Int = 4) -> [Int] {
        guard count >= minimum, groupSize > 0 else { return [] }
        var groups = max(1, count / groupSize)
        if count % groupSize > groups, count / (groups + 1) >= minimum { groups += 1 }
        let base = count / groups
        let larger = count % groups
        return (0..<groups).map { $0 < larger ? base + 1 : base }
    }

    /// The groups, in order, for `accounts` (any order; duplicates are ignored) and the revealed `seed`.
    /// `family` maps an account to the controller of its family (the controller maps to itself); accounts of
    /// one family are never placed together while the order allows it.
    public static func groups(
        accounts: [String], seed: [UInt8], groupSize: Int, minimum: Int = 4, family: [String: String] = [:]
    ) -> [[String]] {
        // Work on positions in the sorted list: no string is copied or hashed on the way.
        let sorted = sortedByBytes(accounts)
        var order = [Int32](0..<Int32(sorted.count))
        var random = AssignmentRandom(seed: seed)
        if order.count > 1 {
            for index in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(index, Int(random.uniform(below: UInt64(index + 1))))
            }
        }
        let sizes = groupSizes(count: order.count, groupSize: groupSize, minimum: minimum)
        var starts: [Int] = []
        var position = 0
        for size in sizes {
            starts.append(position)
            position += size
        }
        if !family.isEmpty {
            let families = familyNumbers(sorted, family)
            separateFamilies(&order, starts: starts, sizes: sizes, family: families)
        }
        return zip(starts, sizes).map { start, size in order[start..<start + size].map { sorted[Int($0)] } }
    }

    /// Sorts by UTF-8 bytes and drops duplicates: on the first eight bytes as one integer, then the whole
    /// text on a tie, so a million keys sort without a million string comparisons.
    public static func sortedByBytes(_ texts: [String]) -> [String] {
        let prefixes = texts.map(prefix)
        var indices = Array(texts.indices)
        indices.sort { left, right in
            prefixes[left] != prefixes[right]
                ? prefixes[left] < prefixes[right] : texts[left].utf8.lexicographicallyPrecedes(texts[right].utf8)
        }
        var sorted: [String] = []
        sorted.reserveCapacity(texts.count)
        for (offset, index) in indices.enumerated() {
            if offset > 0, prefixes[indices[offset - 1]] == prefixes[index], texts[indices[offset - 1]] == texts[index]
            {
                continue
            }
            sorted.append(texts[index])
        }
        return sorted
    }

    /// The first eight UTF-8 bytes as a big-endian integer, zero-padded.
    private static func prefix(_ text: String) -> UInt64 {
        var prefix: UInt64 = 0
        var taken = 0
        for byte in text.utf8.prefix(8) {
            prefix = prefix << 8 | UInt64(byte)
            taken += 1
        }
        return taken == 8 ? prefix : prefix << (8 * UInt64(8 - taken))
    }

    /// A family number per sorted position (-1 for none), found by binary search for each family member.
    private static func familyNumbers(_ sorted: [String], _ family: [String: String]) -> [Int32] {
        var numbers = [Int32](repeating: -1, count: sorted.count)
        var controllers: [String: Int32] = [:]
        for (account, controller) in family {
            guard let position = position(of: account, in: sorted) else { continue }
            let number = controllers[controller] ?? Int32(controllers.count)
            controllers[controller] = number
            numbers[position] = number
        }
        return numbers
    }

    private static func position(of text: String, in sorted: [String]) -> Int? {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle].utf8.lexicographicallyPrecedes(text.utf8) { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] == text ? low : nil
    }

    private static func separateFamilies(_ order: inout [Int32], starts: [Int], sizes: [Int], family: [Int32]) {
        let groups = zip(starts, sizes).map { $0..<$0 + $1 }
        func familyAt(_ position: Int) -> Int32 { family[Int(order[position])] }
        /// Whether the member at `from` has no family member in `group`, ignoring position `except`.
        func fits(_ from: Int, in group: Range<Int>, except: Int) -> Bool {
            let own = familyAt(from)
            return own < 0 || !group.contains { $0 != except && familyAt($0) == own }
        }
        for (index, group) in groups.enumerated() {
            for position in group {
                let own = familyAt(position)
                guard own >= 0, group.contains(where: { $0 < position && familyAt($0) == own }) else { continue }
                let others = groups[(index + 1)...] + groups[..<index]
                let swap = others.lazy.flatMap { other in other.lazy.map { (other, $0) } }.first { other, candidate in
                    fits(candidate, in: group, except: position) && fits(position, in: other, except: candidate)
                }
                if let swap { order.swapAt(position, swap.1) }
            }
        }
    }
}

/// The assignment's random stream: 32-byte blocks `HMAC-SHA256(seed, "partyline-assignment-v1" ‖ counter)`
/// (counter as 8 bytes big-endian, from 0), read as four big-endian 64-bit words each.
public struct AssignmentRandom: Sendable {
    /// HMAC keyed with the seed, copied for each block.
    private let keyed: HMAC<SHA256>
    private var counter: UInt64 = 0
    private var words: [UInt64] = []

    static let label = Array("partyline-assignment-v1".utf8)

    public init(seed: [UInt8]) { keyed = HMAC<SHA256>(key: SymmetricKey(data: seed)) }

    public mutating func next() -> UInt64 {
        if words.isEmpty {
            var mac = keyed
            mac.update(data: Self.label)
            withUnsafeBytes(of: counter.bigEndian) { mac.update(data: $0) }
            counter += 1
            let block = Array(mac.finalize())
            words = stride(from: 24, through: 0, by: -8).map { offset in
                block[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
            }
        }
        return words.removeLast()
    }

    /// A uniform draw in `0..<bound` by rejection (no modulo bias).
    public mutating func uniform(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let word = next()
            if word < limit { return word % bound }
        }
    }
}
