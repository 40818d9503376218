import Synchronization

/// The embedded ledger: a `DepositBook` behind a lock (durable storage comes with the SQL layer).
public final class InMemoryDepositLedger: DepositLedger {
    private let book = Mutex(DepositBook())

    public init() {}

    public func deposit(_ amount: Int64, to holder: String) throws {
        try book.withLock { book throws(DepositBook.Refusal) in try book.deposit(amount, to: holder) }
    }

    public func lock(_ amount: Int64, holder: String, party: String) throws {
        try book.withLock { book throws(DepositBook.Refusal) in try book.lock(amount, holder: holder, party: party) }
    }

    public func release(holder: String, party: String) throws -> Int64 {
        try book.withLock { book throws(DepositBook.Refusal) in try book.release(holder: holder, party: party) }
    }

    public func slash(holder: String, party: String, numerator: Int64, denominator: Int64) throws -> Int64 {
        try book.withLock { book throws(DepositBook.Refusal) in
            try book.slash(holder: holder, party: party, numerator: numerator, denominator: denominator)
        }
    }

    public func balance(_ account: DepositBook.Account) -> Int64 { book.withLock { $0.balance(account) } }

    /// A copy of the books, for audits and tests.
    public func snapshot() -> DepositBook { book.withLock { $0 } }
}
