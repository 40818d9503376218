import Foundation

/// The process's resident memory and open files, from /proc (zero where it does not exist).
struct ProcessStatistics {
    var residentBytes = 0
    var openFiles = 0

    static func current() -> ProcessStatistics {
        var statistics = ProcessStatistics()
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { statistics.residentBytes = pages * Int(getpagesize()) }
        }
        statistics.openFiles = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return statistics
    }
}
