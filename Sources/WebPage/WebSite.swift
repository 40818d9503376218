import Crypto
import Foundation
import NIOCore

/// The party web page's static files, read once into memory: the bundled site (package resources next to
/// the executable) or a directory an operator names (`http.webRoot`).
public struct WebSite: Sendable {
    /// One file as served: its bytes, media type and strong entity tag.
    public struct File: Sendable {
        public let body: ByteBuffer
        public let contentType: String
        public let etag: String
    }

    /// Files by URL path below the site root (`index.html`, `app/app.js`, ...).
    public let files: [String: File]

    /// Why a site could not be read.
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads every file under `directory` (nested folders included; dot files skipped).
    public init(directory: URL) throws(LoadError) {
        let root = directory.standardizedFileURL
        guard
            let enumerator = FileManager.default.enumerator(
                at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else { throw LoadError(description: "cannot read the web page folder \(root.path)") }
        var files: [String: File] = [:]
        for case let url as URL in enumerator {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let path = url.standardizedFileURL.path.dropFirst(root.path.count).drop { $0 == "/" }
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw LoadError(description: "cannot read \(url.path)")
            }
            files[String(path)] = File(
                body: ByteBuffer(bytes: data), contentType: Self.mediaType(of: url.pathExtension),
                etag: "\"\(Self.digest(data))\"")
        }
        guard files["index.html"] != nil else {
            throw LoadError(description: "\(root.path) has no index.html")
        }
        self.files = files
    }

    /// The site bundled with the executable (`<package>_WebPage.resources/Site` beside it).
    public static func bundled() throws(LoadError) -> WebSite {
        let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let folder = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasSuffix("_WebPage.resources") }
            .map { folder.appendingPathComponent($0).appendingPathComponent("Site") }
        guard let site = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw LoadError(description: "no bundled web page beside \(executable.path); set http.webRoot")
        }
        return try WebSite(directory: site)
    }

    static func mediaType(of pathExtension: String) -> String {
        switch pathExtension.lowercased() {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "json", "webmanifest": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "txt": "text/plain; charset=utf-8"
        default: "application/octet-stream"
        }
    }

    /// The first 16 bytes of the SHA-256 of `data`, in hex.
    static func digest(_ data: Data) -> String {
        SHA256.hash(data: data).prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
