#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's open-file limit (RLIMIT_NOFILE), which bounds every socket the server holds.
public enum OpenFileLimit {
    /// File descriptors kept out of every cap: logs, the database, listeners, outgoing HTTP.
    public static let reserved = 128

    /// Raises the soft limit to the hard limit (as nginx's `worker_rlimit_nofile` and coturn do) and returns
    /// the soft limit in force afterwards.
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(resourceNumber, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resourceNumber, &raised) == 0 { limit = raised }
        }
        return Int(clamping: min(UInt64(limit.rlim_cur), UInt64(Int32.max)))
    }

    /// The default connection cap of one kind of listener: three eighths of what the limit leaves after
    /// ``reserved``, so STUN/TURN streams and HTTP together take three quarters and relay sockets keep the rest.
    public static func defaultCap(limit: Int) -> Int { max(16, (limit - reserved) * 3 / 8) }

    #if canImport(Glibc)
        private static let resourceNumber = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
        private static let resourceNumber = RLIMIT_NOFILE
    #endif
}
