import Logging
import ServerTLS
import ServiceLifecycle
import UnixSignals

/// Reloads the TLS certificate and key on SIGHUP and when the files change on disk (checked every
/// `interval`; zero checks only on SIGHUP). New connections get the new certificate; established ones keep
/// theirs. A file that cannot be read, or a key that does not match, leaves the certificate in use and is
/// logged as an error.
struct CertificateReloader: Service {
    let context: ReloadingTLSContext
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
                    reload(reason: "SIGHUP") { try context.reload() }
                }
            }
            if interval > .zero {
                group.addTask {
                    while (try? await Task.sleep(for: interval)) != nil, !Task.isShuttingDownGracefully {
                        reload(reason: "file change") { try context.reloadIfChanged() }
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func reload(reason: String, _ body: () throws -> Bool) {
        do {
            if try body() {
                logger.notice(
                    "TLS certificate reloaded",
                    metadata: ["reason": "\(reason)", "certificate": "\(context.files.certificateChainPath)"])
            }
        } catch {
            logger.error(
                "TLS certificate not reloaded; the one in use stays",
                metadata: ["reason": "\(reason)", "error": "\(error)"])
        }
    }
}
