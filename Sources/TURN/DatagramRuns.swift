/// Runs of datagrams that one write can carry. A GSO run (one UDP write with a segment size, which the
/// kernel cuts back into the same datagrams) holds datagrams of the first one's size, except that the last
/// may be shorter, never empty; a stream run only needs to stay within the byte bound. Plain values, so the
/// relay and the load tool share the rule and it is tested without sockets.
public struct DatagramRuns: Sendable, Hashable {
    /// Most datagrams in one run (the kernel's UDP_MAX_SEGMENTS on older kernels).
    public var maximumSegments = 64
    /// Most bytes in one run: one IP datagram's payload.
    public var maximumBytes = 65_000
    /// Largest datagram a GSO run may hold; a larger one goes alone.
    public var maximumSegmentBytes = Int.max
    /// Whether the run is for GSO (one size, the last shorter) or for a stream (any sizes).
    public var sameSize = true

    public init(maximumSegmentBytes: Int = .max, sameSize: Bool = true) {
        self.maximumSegmentBytes = maximumSegmentBytes
        self.sameSize = sameSize
    }

    /// The end of the run that starts at `start`: `size` gives each datagram's bytes, `joins` any further
    /// condition for the datagram at an index to join the one before it. Always past `start`.
    public func end(
        from start: Int, to limit: Int, size: (Int) -> Int, joins: (Int) -> Bool = { _ in true }
    ) -> Int {
        let first = size(start)
        guard !sameSize || (1...maximumSegmentBytes).contains(first) else { return start + 1 }
        var end = start + 1
        var total = first
        while end < limit, end - start < maximumSegments {
            let next = size(end)
            let fits = sameSize ? size(end - 1) == first && (1...first).contains(next) : next > 0
            guard fits, total + next <= maximumBytes, joins(end) else { break }
            total += next
            end += 1
        }
        return end
    }
}
