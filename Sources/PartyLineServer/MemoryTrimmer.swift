import Logging
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Hands freed heap memory back to the system once a minute. glibc's allocator keeps what a burst of
/// connections freed inside its arenas (only the top of the heap shrinks by itself), so without this the
/// resident size stays at the burst's peak long after the connections are gone. `malloc_trim` releases the
/// free pages of every arena; elsewhere this does nothing.
struct MemoryTrimmer: Service {
    var period: Duration = .seconds(60)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
            } catch {
                return
            }
            Self.trim()
        }
    }

    static func trim() {
        #if canImport(Glibc)
            // malloc.h is not in Swift's Glibc module: look the function up.
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
            typealias MallocTrim = @convention(c) (Int) -> Int32
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
