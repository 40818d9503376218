import Crypto
import Foundation
import Shared

/// How a result callback proves it came from this server: the header
/// `X-PartyLine-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The receiver
/// recomputes the MAC with the shared secret and refuses old timestamps, so a captured callback cannot be
/// replayed later.
public enum CallbackSignature {
    public static let header = "X-PartyLine-Signature"

    public static func sign(body: some Collection<UInt8>, timestamp: Int64, secret: String) -> String {
        "t=\(timestamp),v1=" + Hex.encode(mac(body: body, timestamp: timestamp, secret: secret))
    }

    /// Whether `header` signs `body` with `secret` and its timestamp is within `tolerance` seconds of `now`.
    public static func verify(
        header: String, body: some Collection<UInt8>, secret: String, now: Int64, tolerance: Int64 = 300
    ) -> Bool {
        var timestamp: Int64?
        var signature: [UInt8]?
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return false }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": signature = Hex.decode(pair[1])
            default: continue
            }
        }
        guard let timestamp, let signature, timestamp >= now - tolerance, timestamp <= now + tolerance else {
            return false
        }
        return HMAC<SHA256>.isValidAuthenticationCode(
            signature, authenticating: Array("\(timestamp).".utf8) + Array(body), using: key(secret))
    }

    private static func mac(body: some Collection<UInt8>, timestamp: Int64, secret: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + Array(body), using: key(secret)))
    }

    private static func key(_ secret: String) -> SymmetricKey { SymmetricKey(data: Array(secret.utf8)) }
}
