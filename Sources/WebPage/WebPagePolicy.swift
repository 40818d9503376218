import Foundation
import HTTPTypes

/// The page's security headers. The Content-Security-Policy allows scripts, styles and fetches from the
/// server itself only, plus WebSocket connections to the signalling URL members are told to use; no inline
/// script, no third-party resource, no framing.
public struct WebPagePolicy: Sendable, Hashable {
    /// Origins besides the page's own that `connect-src` allows (`ws://host:port`, `wss://host`).
    public var connectOrigins: [String]

    public init(connectOrigins: [String] = []) {
        self.connectOrigins = connectOrigins
    }

    /// A policy allowing the origin of `signallingURL` (`wss://party.example/v1/signal` → `wss://party.example`).
    public init(signallingURL: String) {
        self.init(connectOrigins: Self.origin(of: signallingURL).map { [$0] } ?? [])
    }

    /// The value of `Content-Security-Policy`.
    public var contentSecurityPolicy: String {
        let connect = (["'self'"] + connectOrigins).joined(separator: " ")
        return [
            "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
            "media-src 'self' blob:", "connect-src \(connect)", "manifest-src 'self'", "base-uri 'none'",
            "form-action 'none'", "frame-ancestors 'none'",
        ].joined(separator: "; ")
    }

    /// Every header a page answer carries.
    public func headers() -> HTTPFields {
        var fields = HTTPFields()
        fields[.contentSecurityPolicy] = contentSecurityPolicy
        fields[.xContentTypeOptions] = "nosniff"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        fields[HTTPField.Name("X-Frame-Options")!] = "DENY"
        fields[HTTPField.Name("Permissions-Policy")!] = "camera=(self), geolocation=(self), microphone=()"
        fields[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        return fields
    }

    /// `scheme://host[:port]` of a URL, or nil when it has no host.
    static func origin(of url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains(" "), !authority.contains(";"),
            !authority.contains("'")
        else { return nil }
        return "\(scheme)://\(authority)"
    }
}
