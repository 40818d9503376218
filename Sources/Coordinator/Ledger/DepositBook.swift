/// Deposits as double-entry books in integer base units (no floating point). Every entry's postings sum to
/// zero, so the books as a whole always sum to zero; every balance is the sum of its account's postings.
/// Money enters and leaves through `external`.
public struct DepositBook: DepositLedger, Hashable {
    /// Where a unit of value sits.
    public enum Account: Sendable, Hashable, Codable {
        /// Outside the system (the chain, a payment provider): deposits come from here, withdrawals go here.
        case external
        /// An account holder's free funds.
        case wallet(String)
        /// Funds an account holder locked for a party.
        case locked(holder: String, party: String)
        /// What a party slashed.
        case slashed(party: String)
    }

    public struct Posting: Sendable, Hashable, Codable {
        public let account: Account
        public let amount: Int64

        public init(account: Account, amount: Int64) {
            self.account = account
            self.amount = amount
        }
    }

    /// One balanced transaction.
    public struct Entry: Sendable, Hashable, Codable {
        public let index: Int
        public let memo: String
        public let postings: [Posting]

        public init(index: Int, memo: String, postings: [Posting]) {
            self.index = index
            self.memo = memo
            self.postings = postings
        }
    }

    /// Why an operation was refused; the book is unchanged.
    public enum Refusal: Error, Sendable, Hashable {
        case invalidAmount
        case insufficientFunds(available: Int64)
        case notLocked
        case invalidFraction
    }

    public private(set) var entries: [Entry] = []
    public private(set) var balances: [Account: Int64] = [:]

    public init() {}

    /// Books rebuilt from stored entries; nil unless every entry balances and indexes run 0, 1, 2, ...
    public init?(entries: [Entry]) {
        for (position, entry) in entries.enumerated() {
            guard entry.index == position, entry.postings.reduce(0, { $0 + $1.amount }) == 0 else { return nil }
            self.entries.append(entry)
            for posting in entry.postings { balances[posting.account, default: 0] += posting.amount }
        }
    }

    public func balance(_ account: Account) -> Int64 { balances[account] ?? 0 }

    /// Funds arriving for `holder`.
    public mutating func deposit(_ amount: Int64, to holder: String) throws(Refusal) {
        // Every balance is bounded by the funds in the books, so bounding those keeps all sums in range.
        // `external` is never positive, so `Int64.max + external` cannot overflow.
        guard amount > 0, amount <= Int64.max + balance(.external) else { throw .invalidAmount }
        post("deposit", [(.external, -amount), (.wallet(holder), amount)])
    }

    /// Funds leaving to `holder` outside the system.
    public mutating func withdraw(_ amount: Int64, from holder: String) throws(Refusal) {
        guard amount > 0 else { throw .invalidAmount }
        let available = balance(.wallet(holder))
        guard available >= amount else { throw .insufficientFunds(available: available) }
        post("withdraw", [(.wallet(holder), -amount), (.external, amount)])
    }

    /// Locks `amount` of `holder`'s free funds for `party` (at registration).
    public mutating func lock(_ amount: Int64, holder: String, party: String) throws(Refusal) {
        guard amount > 0 else { throw .invalidAmount }
        let available = balance(.wallet(holder))
        guard available >= amount else { throw .insufficientFunds(available: available) }
        post("lock \(party)", [(.wallet(holder), -amount), (.locked(holder: holder, party: party), amount)])
    }

    /// Returns the whole deposit `holder` locked for `party` to their free funds; the amount released.
    @discardableResult
    public mutating func release(holder: String, party: String) throws(Refusal) -> Int64 {
        try slash(holder: holder, party: party, numerator: 0, denominator: 1)
    }

    /// Slashes `numerator / denominator` of the deposit (rounded down, so no unit is created or lost) to the
    /// party's slashed account and releases the rest; the amount slashed.
    @discardableResult
    public mutating func slash(holder: String, party: String, numerator: Int64, denominator: Int64) throws(Refusal)
        -> Int64
    {
        guard denominator > 0, (0...denominator).contains(numerator) else { throw .invalidFraction }
        let locked = balance(.locked(holder: holder, party: party))
        guard locked > 0 else { throw .notLocked }
        // Exactly ⌊locked × numerator / denominator⌋: the product is 128 bits wide, and the quotient fits in
        // 64 since numerator ≤ denominator.
        let slashed = denominator.dividingFullWidth(locked.multipliedFullWidth(by: numerator)).quotient
        var postings: [(Account, Int64)] = [(.locked(holder: holder, party: party), -locked)]
        if slashed > 0 { postings.append((.slashed(party: party), slashed)) }
        if locked - slashed > 0 { postings.append((.wallet(holder), locked - slashed)) }
        post(slashed > 0 ? "slash \(party)" : "release \(party)", postings)
        return slashed
    }

    /// Whether every entry sums to zero and the balances are exactly the sums of the postings.
    public func isBalanced() -> Bool {
        var derived: [Account: Int64] = [:]
        for entry in entries {
            guard entry.postings.reduce(0, { $0 + $1.amount }) == 0 else { return false }
            for posting in entry.postings { derived[posting.account, default: 0] += posting.amount }
        }
        return derived.filter { $0.value != 0 } == balances.filter { $0.value != 0 }
            && balances.values.reduce(0, +) == 0
    }

    private mutating func post(_ memo: String, _ postings: [(Account, Int64)]) {
        entries.append(
            Entry(index: entries.count, memo: memo, postings: postings.map { Posting(account: $0.0, amount: $0.1) }))
        for (account, amount) in postings { balances[account, default: 0] += amount }
    }
}
