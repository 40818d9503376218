import Coordinator
import TestRandom
import Testing

@Suite("Locations: WGS84 points and the minimum-distance grid")
struct SpacingIndexTests {
    @Test("coordinates outside the globe or not finite are refused; distances match known ones")
    func points() throws {
        #expect(GeoPoint(latitude: 90.1, longitude: 0) == nil)
        #expect(GeoPoint(latitude: 0, longitude: -180.5) == nil)
        #expect(GeoPoint(latitude: .nan, longitude: 0) == nil)
        #expect(GeoPoint(latitude: 0, longitude: .infinity) == nil)
        let paris = try #require(GeoPoint(latitude: 48.8566, longitude: 2.3522))
        let london = try #require(GeoPoint(latitude: 51.5074, longitude: -0.1278))
        #expect(abs(paris.distance(to: london) - 343_500) < 1_000)
        let a = try #require(GeoPoint(latitude: 0, longitude: 0))
        let b = try #require(GeoPoint(latitude: 1, longitude: 0))
        #expect(abs(a.distance(to: b) - 111_195) < 10)
    }

    @Test("a registration closer than the spacing is refused, one farther away is not; duplicates are refused")
    func spacing() throws {
        var index = SpacingIndex<String>(spacing: 100)
        let here = try #require(GeoPoint(latitude: 52.52, longitude: 13.405))
        #expect(index.insert("a", at: here) == nil)
        // 0.0008° of latitude is about 89 m; 0.001° about 111 m.
        #expect(index.insert("b", at: try #require(GeoPoint(latitude: 52.5208, longitude: 13.405))) == "a")
        #expect(index.insert("c", at: try #require(GeoPoint(latitude: 52.521, longitude: 13.405))) == nil)
        #expect(index.insert("a", at: try #require(GeoPoint(latitude: 10, longitude: 10))) == "a")
        index.remove("a")
        #expect(index.insert("b", at: try #require(GeoPoint(latitude: 52.5208, longitude: 13.405))) == "c")
        #expect(index.count == 1)
    }

    @Test("neighbours across the antimeridian and near the poles are found")
    func edges() throws {
        var index = SpacingIndex<String>(spacing: 100)
        #expect(index.insert("east", at: try #require(GeoPoint(latitude: 10, longitude: 179.9997))) == nil)
        #expect(index.conflict(with: try #require(GeoPoint(latitude: 10, longitude: -179.9997))) == "east")
        #expect(index.insert("pole", at: try #require(GeoPoint(latitude: 89.9999, longitude: 0))) == nil)
        #expect(index.conflict(with: try #require(GeoPoint(latitude: 89.9999, longitude: 180))) == "pole")
    }

    @Test("the grid agrees with a brute-force scan on 3,000 random points at several spacings")
    func agreesWithScan() throws {
        for (seed, spacing, spread) in [(1, 100.0, 0.05), (2, 5_000.0, 2.0), (3, 300_000.0, 90.0)]
            as [(UInt64, Double, Double)]
        {
            var random = SplitMix64(state: seed)
            var index = SpacingIndex<Int>(spacing: spacing)
            var accepted: [(Int, GeoPoint)] = []
            for key in 0..<3_000 {
                let center = key % 3 == 0 ? 88.0 : 0.0
                let latitude = max(-90, min(90, center + Double.random(in: -spread...spread, using: &random)))
                let longitude =
                    key % 2 == 0
                    ? 180 - Double.random(in: 0...spread, using: &random)
                    : Double.random(in: -180...(-180 + spread), using: &random)
                let point = try #require(GeoPoint(latitude: latitude, longitude: longitude))
                let scanned = accepted.contains { $0.1.distance(to: point) < spacing }
                let conflict = index.insert(key, at: point)
                #expect((conflict != nil) == scanned, "seed \(seed) key \(key)")
                if conflict == nil { accepted.append((key, point)) }
            }
            #expect(index.count == accepted.count && accepted.count > 10)
        }
    }
}
