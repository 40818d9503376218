import TURN
import Testing

@Suite("Runs of datagrams for one write")
struct DatagramRunsTests {
    /// Every run of `sizes` from the start, as the ranges a writer walks.
    func runs(_ sizes: [Int], _ rule: DatagramRuns, joins: (Int) -> Bool = { _ in true }) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var index = 0
        while index < sizes.count {
            let end = rule.end(from: index, to: sizes.count, size: { sizes[$0] }, joins: joins)
            ranges.append(index..<end)
            index = end
        }
        return ranges
    }

    @Test("GSO runs: one size, the last may be shorter but not empty; a longer one starts a new run")
    func sameSize() {
        let rule = DatagramRuns()
        #expect(runs([100, 100, 100, 40, 100], rule) == [0..<4, 4..<5])
        #expect(runs([100, 40, 40], rule) == [0..<2, 2..<3], "nothing follows a shorter segment")
        #expect(runs([100, 120, 120], rule) == [0..<1, 1..<3])
        #expect(runs([100, 0, 100], rule) == [0..<1, 1..<2, 2..<3], "an empty datagram never joins")
        #expect(runs([0, 0], rule) == [0..<1, 1..<2])
    }

    @Test("bounds: segments per run, bytes per run, bytes per segment; and the caller's own condition")
    func bounds() {
        #expect(runs(Array(repeating: 10, count: 130), DatagramRuns()).map(\.count) == [64, 64, 2])
        #expect(runs(Array(repeating: 1_000, count: 70), DatagramRuns()).map(\.count) == [64, 6])
        #expect(runs([30_000, 30_000, 30_000], DatagramRuns()) == [0..<2, 2..<3])
        #expect(runs([1_300, 1_300], DatagramRuns(maximumSegmentBytes: 1_200)) == [0..<1, 1..<2])
        #expect(runs([1_200, 1_200], DatagramRuns(maximumSegmentBytes: 1_200)) == [0..<2])
        #expect(runs([10, 10, 10, 10], DatagramRuns(), joins: { $0 != 2 }) == [0..<2, 2..<4])
    }

    @Test("stream runs: any sizes within the byte bound")
    func stream() {
        let rule = DatagramRuns(sameSize: false)
        #expect(runs([4, 100, 8, 2_000], rule) == [0..<4])
        #expect(runs([40_000, 30_000], rule) == [0..<1, 1..<2])
    }
}
