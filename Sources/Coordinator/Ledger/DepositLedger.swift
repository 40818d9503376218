/// The deposit ledger the coordinator posts to. `DepositBook` is the embedded one, stored with the rest of
/// the coordinator's tables in the same transactions; an adapter to an external ledger (a chain, a payment
/// provider) conforms by mirroring its balances and reporting no entries of its own to store.
public protocol DepositLedger: Sendable {
    func balance(_ account: DepositBook.Account) -> Int64
    /// Entries recorded so far; the coordinator stores those past the count it saw before an operation.
    var entries: [DepositBook.Entry] { get }
    mutating func deposit(_ amount: Int64, to holder: String) throws(DepositBook.Refusal)
    mutating func withdraw(_ amount: Int64, from holder: String) throws(DepositBook.Refusal)
    mutating func lock(_ amount: Int64, holder: String, party: String) throws(DepositBook.Refusal)
    @discardableResult
    mutating func release(holder: String, party: String) throws(DepositBook.Refusal) -> Int64
    @discardableResult
    mutating func slash(holder: String, party: String, numerator: Int64, denominator: Int64)
        throws(DepositBook.Refusal) -> Int64
    func isBalanced() -> Bool
}
