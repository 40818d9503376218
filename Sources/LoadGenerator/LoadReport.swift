import Histogram

/// What a load run measured: counts, rate and round-trip latency percentiles.
public struct LoadReport: Sendable {
    public var sent = 0
    public var received = 0
    /// Requests with no valid response within the timeout.
    public var lost = 0
    /// Datagrams that were not a valid response to an outstanding request.
    public var invalid = 0
    public var duration: Duration = .zero
    /// Round trips in microseconds.
    public var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    public var responsesPerSecond: Double {
        let seconds = duration / .seconds(1)
        return seconds > 0 ? Double(received) / seconds : 0
    }

    public var lossPercent: Double { sent > 0 ? 100 * Double(lost) / Double(sent) : 0 }

    mutating func merge(_ other: LoadReport) {
        sent += other.sent
        received += other.received
        lost += other.lost
        invalid += other.invalid
        latency.add(other.latency)
    }

    /// The closing table.
    public func table(
        title: String, sentLabel: String = "requests sent", receivedLabel: String = "responses",
        rateLabel: String = "responses/s"
    ) -> String {
        func micros(_ percentile: Double) -> String {
            received == 0 ? "-" : formatMicros(latency.valueAtPercentile(percentile))
        }
        let rows: [(String, String)] = [
            (
                "duration",
                String(format2(duration / .seconds(1)))
                    + " s"
            ),
            (sentLabel, "\(sent)"),
            (receivedLabel, "\(received)"),
            (rateLabel, String(Int(responsesPerSecond.rounded()))),
            ("lost", "\(lost) (\(format2(lossPercent)) %)"),
            ("invalid datagrams", "\(invalid)"),
            ("p50 round trip", micros(50)),
            ("p99 round trip", micros(99)),
            ("p99.9 round trip", micros(99.9)),
            ("max round trip", received == 0 ? "-" : formatMicros(latency.max)),
        ]
        let width = rows.map(\.0.count).max()!
        var text = "\(title)\n"
        for (name, value) in rows {
            text += "  " + name + String(repeating: " ", count: width - name.count) + "  " + value + "\n"
        }
        return text
    }
}

func formatMicros(_ value: UInt64) -> String {
    value >= 10_000 ? format2(Double(value) / 1000) + " ms" : "\(value) µs"
}

func format2(_ value: Double) -> String {
    let scaled = (value * 100).rounded()
    let whole = Int(scaled) / 100
    let fraction = abs(Int(scaled)) % 100
    return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
}
