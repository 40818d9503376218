import Foundation
import Metrics
import Prometheus
import RelayServer
import Signalling
import SignallingServer
import Synchronization
import TURN

/// `/metrics` in Prometheus text format. swift-metrics users (the HTTP middleware, the coordinator's
/// commits) write into the process's registry as they go; the relay's and signalling's counters are
/// atomics that nobody locks per packet, read here at scrape time and brought into this exporter's own
/// registry as deltas. A scrape is both registries' text.
final class MetricsExporter: Sendable {
    /// The process's registry; swift-metrics is bootstrapped into it the first time it is used.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (sanitized(name), labels.map { (sanitized($0.0), $0.1) })
        }
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .microseconds(2_500_000), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Prometheus names and label names: `[a-zA-Z_][a-zA-Z0-9_]*` (Hummingbird's `hb.requests` becomes
    /// `hb_requests`).
    static func sanitized(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
    }

    private let relay: RelayServer
    private let hub: SignallingHub
    /// This exporter's snapshot-based series; swift-metrics' live ones are in the process-wide ``registry``.
    private let snapshots = PrometheusCollectorRegistry()
    private let started = Date()
    /// The totals each counter had at the last scrape; one scrape at a time.
    private let last = Mutex<[String: Int]>([:])

    init(relay: RelayServer, hub: SignallingHub) {
        self.relay = relay
        self.hub = hub
        _ = Self.registry
    }

    /// The registry's text after bringing every snapshot counter and gauge up to date.
    func scrape() async -> [UInt8] {
        let turn = await relay.metrics()
        let signalling = hub.statistics()
        let process = ProcessStatistics.current()
        return last.withLock { last in
            var writer = Writer(registry: snapshots, last: last)
            writer.relay(turn)
            writer.signalling(signalling)
            writer.gauge("process_resident_memory_bytes", [], Double(process.residentBytes), "Resident memory")
            writer.gauge("process_open_fds", [], Double(process.openFiles), "Open file descriptors")
            writer.gauge(
                "process_start_time_seconds", [], started.timeIntervalSince1970, "Start time, Unix seconds")
            last = writer.last
            var text = snapshots.emitToBuffer()
            Self.registry.emit(into: &text)
            return text
        }
    }

    /// Sets gauges and advances counters by the growth of their totals since the last scrape.
    private struct Writer {
        let registry: PrometheusCollectorRegistry
        var last: [String: Int]

        mutating func counter(_ name: String, _ labels: [(String, String)], _ total: Int, _ help: String) {
            let counter = registry.makeCounter(name: name, labels: labels, help: help)
            let key = ([name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "|")
            // Scrapes may overlap: an older snapshot applied after a newer one must not move the mark back.
            let previous = last[key, default: 0]
            if total > previous {
                counter.increment(by: Int64(total - previous))
                last[key] = total
            }
        }

        func gauge(_ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
            registry.makeGauge(name: name, labels: labels, help: help).set(value)
        }

        mutating func relay(_ metrics: RelayMetrics) {
            for (transport, counts) in metrics.listeners.byTransport {
                let t = ("transport", transport.rawValue)
                for (outcome, value) in [
                    ("answered", counts.answered), ("error", counts.errorResponses), ("malformed", counts.malformed),
                    ("ignored", counts.ignored),
                ] {
                    counter(
                        "partyline_stun_messages_total", [t, ("outcome", outcome)], value,
                        "STUN messages and ChannelData at the listeners by how they ended (Binding answered, "
                            + "error answered, malformed and dropped, ignored)")
                }
                for (event, value) in [
                    ("accepted", counts.connectionsAccepted), ("bad-framing", counts.connectionsClosedForBadFraming),
                    ("timed-out", counts.connectionsTimedOut),
                ] where transport != .udp {
                    counter(
                        "partyline_stun_connections_total", [t, ("event", event)], value,
                        "STUN/TURN stream connections accepted and closed for bad framing or timeouts")
                }
            }
            for (outcome, count) in metrics.requests.outcomes {
                counter(
                    "partyline_turn_requests_total",
                    [("method", "\(outcome.method)"), ("code", outcome.code == 0 ? "none" : "\(outcome.code)")], count,
                    "TURN requests by method and answer (200 success, the error code, none when rate-limited)")
            }
            for reason in TURNAuthenticator.Refusal.allCases {
                counter(
                    "partyline_turn_auth_refusals_total", [("reason", reason.rawValue)],
                    metrics.requests.refusals[reason, default: 0],
                    "TURN requests not authenticated, by reason (challenge: a client's first request)")
            }
            let quota: [(String, Int)] = [
                ("allocation-quota", metrics.requests.count(code: 486)),
                ("capacity", metrics.requests.count(code: 508)), ("rate-limit", metrics.requests.count(code: 0)),
            ]
            for (reason, value) in quota {
                counter(
                    "partyline_turn_quota_refusals_total", [("reason", reason)], value,
                    "TURN requests refused for a quota: 486 per user, 508 capacity, unanswered over the rate")
            }
            gauge("partyline_turn_allocations", [], Double(metrics.relay.allocations), "Live TURN allocations")
            gauge("partyline_turn_permissions", [], Double(metrics.permissions), "Live TURN permissions")
            gauge("partyline_turn_channels", [], Double(metrics.channels), "Live TURN channel bindings")
            for direction in RelayedTraffic.Direction.allCases {
                for transport in RelayedTraffic.transports {
                    let labels = [("direction", direction.rawValue), ("transport", transport.rawValue)]
                    counter(
                        "partyline_relay_packets_total", labels, metrics.relay.traffic.packets(direction, transport),
                        "Packets relayed, by direction and the client's transport")
                    counter(
                        "partyline_relay_bytes_total", labels, metrics.relay.traffic.bytes(direction, transport),
                        "Payload bytes relayed, by direction and the client's transport")
                }
            }
            for (reason, value) in [
                ("no-permission", metrics.relay.dropped), ("malformed", metrics.relay.malformedChannelData),
                ("slow-client", metrics.relay.droppedForSlowClients),
            ] {
                counter(
                    "partyline_relay_dropped_total", [("reason", reason)], value,
                    "Relayed data dropped: no allocation, permission or channel (or a full relay socket); "
                        + "malformed ChannelData; a stream client not reading")
            }
        }

        mutating func signalling(_ statistics: SignallingStatistics) {
            gauge(
                "partyline_signalling_websockets", [], Double(statistics.webSocketsOpen),
                "Signalling WebSockets admitted and open")
            counter(
                "partyline_signalling_websockets_total", [], statistics.webSocketsAccepted,
                "Signalling WebSockets admitted")
            counter(
                "partyline_signalling_sessions_created_total", [], statistics.sessionsCreated, "Group sessions created")
            for state in ["waiting", "running", "finished", "undersized"] {
                gauge(
                    "partyline_signalling_sessions", [("state", state)], Double(statistics.sessions[state, default: 0]),
                    "Group sessions on this node by state (finished ones are kept for the retention period)")
            }
            gauge("partyline_signalling_turns_running", [], Double(statistics.runningTurns), "Turns in progress")
            for vote in GroupSession.Vote.allCases {
                counter(
                    "partyline_signalling_votes_total", [("vote", vote.rawValue)], statistics.votes[vote, default: 0],
                    "Votes made durable")
            }
            for outcome in GroupSession.Outcome.allCases {
                counter(
                    "partyline_signalling_decisions_total", [("outcome", outcome.rawValue)],
                    statistics.decisions[outcome, default: 0], "Turns decided, by outcome")
            }
            counter(
                "partyline_signalling_stream_stops_total", [], statistics.streamStops,
                "Turn credentials revoked at the relay (a prover's stream stopped)")
        }
    }
}
