import TURN

/// A TURN relay the server drives: an event loop's ``TURNLoop`` (stream clients, and UDP clients when UDP
/// runs on the event loops) or a ``DatagramPlane``'s ``DatagramTURN`` (UDP clients). Every member is used on
/// the thread that owns the driver.
protocol TURNDriver: AnyObject {
    var table: AllocationTable { get set }
    var counters: RelayCounters { get }
    /// Tears down the allocations of REST subjects under `subjectPrefix`; returns the relay sockets closed.
    func revoke(subjectPrefix: String) -> Int
    /// Closes every relay socket (server shutdown).
    func closeAll()
}
