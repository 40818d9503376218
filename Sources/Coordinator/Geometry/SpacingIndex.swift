import Foundation

/// Enforces a minimum distance between registered points with a grid, not a scan. Latitude bands are
/// `spacing` meters tall, so every point within `spacing` of a query lies in the query's band or the two
/// next to it. Within a band, cells are about `spacing` wide at the band's poleward edge; a query looks at
/// the cells covering the widest longitude span a point closer than `spacing` can have at those bands'
/// latitudes (`2·asin(sin(s/2R) / cos φmax)`). Longitude wraps at the antimeridian.
public struct SpacingIndex<Key: Hashable & Sendable>: Sendable {
    struct Cell: Hashable, Sendable {
        let band: Int
        let column: Int
    }

    /// The minimum distance in meters.
    public let spacing: Double
    private let bandDegrees: Double
    private var cells: [Cell: [(key: Key, point: GeoPoint)]] = [:]
    private var locations: [Key: GeoPoint] = [:]

    public init(spacing: Double) {
        precondition(spacing > 0 && spacing.isFinite, "spacing must be a positive distance")
        self.spacing = spacing
        bandDegrees = min(180, spacing / (GeoPoint.earthRadius * .pi / 180))
    }

    public var count: Int { locations.count }

    /// The registered key nearest to `point` closer than `spacing`, if any.
    public func conflict(with point: GeoPoint) -> Key? {
        var nearest: (key: Key, distance: Double)?
        let band = self.band(of: point.latitude)
        let span = longitudeSpan(around: band)
        for candidateBand in (band - 1)...(band + 1) where (0..<bandCount).contains(candidateBand) {
            for column in columns(from: point.longitude - span, to: point.longitude + span, in: candidateBand) {
                for entry in cells[Cell(band: candidateBand, column: column)] ?? [] {
                    let distance = entry.point.distance(to: point)
                    if distance < spacing, distance < nearest?.distance ?? .infinity { nearest = (entry.key, distance) }
                }
            }
        }
        return nearest?.key
    }

    /// Registers `key` at `point` unless another key is closer than `spacing` (returned) or `key` is already
    /// registered (returned too).
    /// With `checkingSpacing` false the point is placed whatever lies near it (replaying stored registrations,
    /// which were spaced under the rules in force when they were made).
    public mutating func insert(_ key: Key, at point: GeoPoint, checkingSpacing: Bool = true) -> Key? {
        if locations[key] != nil { return key }
        if checkingSpacing, let conflict = conflict(with: point) { return conflict }
        locations[key] = point
        cells[cell(of: point), default: []].append((key, point))
        return nil
    }

    /// Forgets `key`'s registration.
    public mutating func remove(_ key: Key) {
        guard let point = locations.removeValue(forKey: key) else { return }
        let cell = cell(of: point)
        cells[cell]?.removeAll { $0.key == key }
        if cells[cell]?.isEmpty == true { cells[cell] = nil }
    }

    public func location(of key: Key) -> GeoPoint? { locations[key] }

    // MARK: Grid

    private var bandCount: Int { max(1, Int((180 / bandDegrees).rounded(.up))) }

    private func band(of latitude: Double) -> Int {
        min(bandCount - 1, Int(((latitude + 90) / bandDegrees).rounded(.down)))
    }

    /// Columns in `band`: cells at least `spacing` wide where the band is narrowest (its poleward edge).
    private func columnCount(in band: Int) -> Int {
        let low = -90 + Double(band) * bandDegrees
        let high = min(90, low + bandDegrees)
        let poleward = max(abs(low), abs(high))
        let width = cos(poleward * .pi / 180) * 360
        return max(1, Int((width / bandDegrees).rounded(.down)))
    }

    private func column(of longitude: Double, in band: Int) -> Int {
        let count = columnCount(in: band)
        return min(count - 1, Int(((longitude + 180) / 360 * Double(count)).rounded(.down)))
    }

    private func cell(of point: GeoPoint) -> Cell {
        let band = band(of: point.latitude)
        return Cell(band: band, column: column(of: point.longitude, in: band))
    }

    /// The largest longitude difference, in degrees, of two points closer than `spacing` whose latitudes lie
    /// in `band` or its neighbours; 360 when any difference is possible.
    private func longitudeSpan(around band: Int) -> Double {
        let low = -90 + Double(max(0, band - 1)) * bandDegrees
        let high = min(90, -90 + Double(min(bandCount, band + 2)) * bandDegrees)
        let poleward = max(abs(low), abs(high))
        let ratio = sin(spacing / (2 * GeoPoint.earthRadius)) / cos(poleward * .pi / 180)
        guard ratio < 1 else { return 360 }
        return 2 * asin(ratio) * 180 / .pi
    }

    /// The columns of `band` that longitudes `from...to` touch, wrapping at the antimeridian.
    private func columns(from: Double, to: Double, in band: Int) -> [Int] {
        let count = columnCount(in: band)
        let width = 360 / Double(count)
        let first = Int(((from + 180) / width).rounded(.down))
        let last = Int(((to + 180) / width).rounded(.down))
        guard last - first + 1 < count else { return Array(0..<count) }
        return (first...last).map { (($0 % count) + count) % count }
    }
}
