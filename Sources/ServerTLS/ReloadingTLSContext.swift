import Foundation
import NIOConcurrencyHelpers
import NIOSSL

/// The server's TLS context, read again from its files on ``reload()`` (SIGHUP) or when they change
/// (``reloadIfChanged()``). Listeners take ``current`` for every connection they accept, so a new
/// certificate serves new connections while established ones (allocations, relayed streams, WebSockets)
/// keep the session they negotiated.
public final class ReloadingTLSContext: Sendable {
    public let files: TLSCertificateFiles
    /// ALPN identifiers offered, in preference order.
    public let applicationProtocols: [String]
    private let state: NIOLockedValueBox<State>

    private struct State {
        var context: NIOSSLContext
        /// The files as last looked at, loaded or not: a failed load is tried again once they change again
        /// (an ACME client may write the certificate and the key one after the other).
        var seen: FileStamp
    }

    /// What ALPN offers by default: HTTP/1.1 (the API, the page and the signalling WebSocket) and TURN
    /// and STUN over TLS (RFC 7443).
    public static let defaultApplicationProtocols = ["http/1.1", "stun.turn", "stun.nat-discovery"]

    /// Loads the certificate chain and key; throws if either cannot be read or they do not match.
    public init(files: TLSCertificateFiles, applicationProtocols: [String] = defaultApplicationProtocols) throws {
        self.files = files
        self.applicationProtocols = applicationProtocols
        state = NIOLockedValueBox(
            State(context: try Self.makeContext(files, applicationProtocols), seen: FileStamp(files)))
    }

    /// The context for a connection accepted now.
    public var current: NIOSSLContext { state.withLockedValue { $0.context } }

    /// Reads the files again (returns true). On failure the context in use stays and the error is thrown.
    @discardableResult
    public func reload() throws -> Bool {
        let stamp = FileStamp(files)
        let context = try Self.makeContext(files, applicationProtocols)
        state.withLockedValue { $0 = State(context: context, seen: stamp) }
        return true
    }

    /// Reloads when either file's modification time, size or inode changed since the last load; returns
    /// whether it did. An ACME client that renews the files in place is picked up this way.
    @discardableResult
    public func reloadIfChanged() throws -> Bool {
        let stamp = FileStamp(files)
        let changed = state.withLockedValue { state in
            defer { state.seen = stamp }
            return state.seen != stamp
        }
        return changed ? try reload() : false
    }

    static func makeContext(_ files: TLSCertificateFiles, _ protocols: [String]) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificateChainPath).map {
            NIOSSLCertificateSource.certificate($0)
        }
        let key = try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(key))
        // TLS 1.0 and 1.1 are deprecated (RFC 8996).
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = protocols
        return try NIOSSLContext(configuration: configuration)
    }
}

/// What identifies a version of the two files on disk.
struct FileStamp: Hashable, Sendable {
    private var parts: [String]

    init(_ files: TLSCertificateFiles) {
        parts = [files.certificateChainPath, files.privateKeyPath].map { path in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return "missing" }
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(modified)/\(attributes[.size] ?? 0)/\(attributes[.systemFileNumber] ?? 0)"
        }
    }
}
