import Coordinator
import TestRandom
import Testing

@Suite("Deposits: double-entry books in integer base units")
struct DepositBookTests {
    @Test("lock, release and slash move funds without creating or losing a unit")
    func operations() throws {
        var book = DepositBook()
        try book.deposit(1_000, to: "alice")
        try book.lock(300, holder: "alice", party: "p1")
        #expect(book.balance(.wallet("alice")) == 700 && book.balance(.locked(holder: "alice", party: "p1")) == 300)
        #expect(try book.slash(holder: "alice", party: "p1", numerator: 1, denominator: 3) == 100)
        #expect(book.balance(.wallet("alice")) == 900 && book.balance(.slashed(party: "p1")) == 100)
        try book.lock(101, holder: "alice", party: "p2")
        #expect(try book.slash(holder: "alice", party: "p2", numerator: 1, denominator: 2) == 50, "rounded down")
        #expect(book.balance(.wallet("alice")) == 850)
        try book.lock(10, holder: "alice", party: "p3")
        #expect(try book.release(holder: "alice", party: "p3") == 0 && book.balance(.wallet("alice")) == 850)
        #expect(book.isBalanced())
    }

    @Test("refused operations change nothing")
    func refusals() throws {
        var book = DepositBook()
        try book.deposit(100, to: "bob")
        let before = book
        #expect(throws: DepositBook.Refusal.insufficientFunds(available: 100)) {
            try book.lock(101, holder: "bob", party: "p")
        }
        #expect(throws: DepositBook.Refusal.invalidAmount) { try book.deposit(0, to: "bob") }
        #expect(throws: DepositBook.Refusal.invalidAmount) { try book.lock(-5, holder: "bob", party: "p") }
        #expect(throws: DepositBook.Refusal.notLocked) { try book.release(holder: "bob", party: "p") }
        try book.lock(50, holder: "bob", party: "p")
        let locked = book
        #expect(throws: DepositBook.Refusal.invalidFraction) {
            try book.slash(holder: "bob", party: "p", numerator: 3, denominator: 2)
        }
        #expect(book == locked)
        #expect(before.entries.count == 1)
    }

    @Test("after 20,000 random operations the books balance and every balance is derivable from the entries")
    func alwaysBalanced() {
        var random = SplitMix64(state: 42)
        var book = DepositBook()
        let holders = (0..<50).map { "h\($0)" }
        let parties = (0..<5).map { "p\($0)" }
        for _ in 0..<20_000 {
            let holder = holders.randomElement(using: &random)!
            let party = parties.randomElement(using: &random)!
            let amount = Int64.random(in: -10...Int64(1) << 40, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: try? book.deposit(amount, to: holder)
            case 1: try? book.lock(amount / 4, holder: holder, party: party)
            case 2: _ = try? book.release(holder: holder, party: party)
            case 3:
                _ = try? book.slash(
                    holder: holder, party: party, numerator: Int64.random(in: 0...7, using: &random), denominator: 7)
            default: try? book.withdraw(amount / 8, from: holder)
            }
        }
        #expect(book.isBalanced() && book.entries.count > 5_000)
        #expect(
            book.balances.filter { if case .external = $0.key { false } else { true } }.values.allSatisfy { $0 >= 0 })
    }

    @Test(
        "slashing is exactly the floor of deposit × fraction, however large the deposit",
        arguments: [
            (2_222_222_222_222_222_221, 999, 2_219_999_999_999_999_998), (.max, 999, 9_214_148_664_817_921_031),
            (.max, 1000, .max), (.max, 1, 9_223_372_036_854_775), (.max, 0, 0), (1, 999, 0), (1_000, 999, 999),
            (9_223_372_036_854_775_000, 500, 4_611_686_018_427_387_500),
        ] as [(Int64, Int64, Int64)])
    func exactSlash(deposit: Int64, permille: Int64, slashed: Int64) throws {
        var book = DepositBook()
        try book.deposit(deposit, to: "a")
        try book.lock(deposit, holder: "a", party: "p")
        #expect(try book.slash(holder: "a", party: "p", numerator: permille, denominator: 1000) == slashed)
        #expect(book.balance(.wallet("a")) == deposit - slashed)
        #expect(book.isBalanced())
    }

    @Test("deposits that would overflow the books are refused")
    func overflow() throws {
        var book = DepositBook()
        try book.deposit(Int64.max, to: "a")
        #expect(throws: DepositBook.Refusal.invalidAmount) { try book.deposit(1, to: "b") }
        try book.withdraw(10, from: "a")
        try book.deposit(10, to: "b")
        #expect(book.isBalanced())
    }

    @Test("books rebuilt from their entries equal the originals; unbalanced or gapped entries are refused")
    func rebuiltFromEntries() throws {
        var book = DepositBook()
        try book.deposit(500, to: "carol")
        try book.lock(200, holder: "carol", party: "p")
        try book.slash(holder: "carol", party: "p", numerator: 1, denominator: 4)
        #expect(DepositBook(entries: book.entries) == book)
        let entries = book.entries
        let unbalanced = DepositBook.Entry(
            index: 3, memo: "forged", postings: [.init(account: .wallet("carol"), amount: 1_000)])
        #expect(DepositBook(entries: entries + [unbalanced]) == nil)
        #expect(DepositBook(entries: [entries[0], entries[2]]) == nil)
    }
}
