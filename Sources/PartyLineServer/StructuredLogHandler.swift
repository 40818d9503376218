import Foundation
import Logging
import Synchronization

/// Where log lines go: standard error by default; tests collect them.
public struct LogSink: Sendable {
    public let write: @Sendable (String) -> Void

    public init(write: @escaping @Sendable (String) -> Void) { self.write = write }

    /// Standard error, one line per write, lines of concurrent writers never interleaved.
    public static let standardError = LogSink { line in
        // A broken stderr (the log shipper gone) must not stop the server: write errors are ignored.
        lock.withLock { _ in try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8)) }
    }
    private static let lock = Mutex(())
}

/// How log lines are written (`log.format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `time=… level=info subsystem=relay msg="listening" transport=udp …` (logfmt).
    case logfmt
    /// One JSON object per line: `{"time":…,"level":"info","subsystem":"relay","msg":"listening",…}`.
    case json
}

/// A swift-log handler writing structured lines: the time, the level, the subsystem (the logger's label
/// without `partyline.`), the message and every metadata key, sorted.
struct StructuredLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    let sink: LogSink
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// UTC with milliseconds and the `Z`: `2026-12-03T18:31:43.788Z`.
    static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// `partyline.relay` → `relay`; the root logger `partyline` is `server`.
    static func subsystem(of label: String) -> String {
        label == "partyline" ? "server" : label.hasPrefix("partyline.") ? String(label.dropFirst(10)) : label
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        var fields: [(String, String)] = [
            ("time", Date().formatted(Self.timeFormat)),
            ("level", level.rawValue), ("subsystem", Self.subsystem(of: label)), ("msg", message.description),
        ]
        let merged = explicit.map { metadata.merging($0) { $1 } } ?? metadata
        for key in merged.keys.sorted() { fields.append((key, merged[key]!.description)) }
        sink.write(format == .json ? Self.json(fields) : Self.logfmt(fields))
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let needsQuotes =
                value.isEmpty
                || value.unicodeScalars.contains {
                    $0.value <= 0x20 || $0.value == 0x7F || "=\"\\".unicodeScalars.contains($0)
                }
            return needsQuotes ? "\(key)=\"\(escaped(value))\"" : "\(key)=\(value)"
        }.joined(separator: " ")
    }

    static func json(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\"\(escaped($0.0))\":\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// JSON string escaping (also valid inside logfmt's quotes): quotes, backslashes, control characters.
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
