import Crypto
import Foundation
import STUN

/// Stateless nonces (RFC 8489 §9.2): the nonce carries its issue time and an HMAC-SHA256 binding it to the
/// client's IP address, so the server stores nothing per client and a flood of spoofed requests costs no
/// memory. Each nonce starts with RFC 8489's cookie announcing PASSWORD-ALGORITHMS support.
public struct NonceIssuer: Sendable {
    /// RFC 8489 §9.2: "obMatJos2" then the 24-bit Security Feature Set in base64; bit 0 (the most
    /// significant) is "Password algorithms".
    public static let cookie = "obMatJos2" + Data([0x80, 0x00, 0x00]).base64EncodedString()

    /// HMAC-SHA256 keyed once: each nonce works on a copy (copy-on-write), so no nonce pays for the keying.
    private let keyed: HMAC<SHA256>
    /// Seconds a nonce stays fresh; older ones get 438 Stale Nonce.
    public let lifetime: UInt64

    public init(key: SymmetricKey = SymmetricKey(size: .bits256), lifetime: UInt64 = 600) {
        keyed = HMAC(key: key)
        self.lifetime = lifetime
    }

    /// A fresh nonce for `client` at `now` (Unix seconds).
    public func nonce(for client: TransportAddress, now: UInt64) -> String {
        let issued = withUnsafeBytes(of: now.bigEndian) { Array($0) }
        let payload = issued + code(issued: issued, client: client)
        return Self.cookie + Data(payload).base64EncodedString()
    }

    /// How a nonce from a request checks out.
    public enum Check: Hashable, Sendable {
        case fresh
        /// Issued by this server for this client, but older than ``lifetime``.
        case stale
        /// Not issued by this server for this client.
        case invalid
    }

    public func check(_ nonce: String, client: TransportAddress, now: UInt64) -> Check {
        guard nonce.hasPrefix(Self.cookie),
            let payload = Data(base64Encoded: String(nonce.dropFirst(Self.cookie.count))),
            payload.count == 8 + SHA256.byteCount
        else { return .invalid }
        let issuedBytes = Array(payload.prefix(8))
        // Compared in constant time (MessageAuthenticationCode's == with bytes).
        guard code(issued: issuedBytes, client: client) == payload.suffix(SHA256.byteCount) else { return .invalid }
        let issued = issuedBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard issued <= now + 5 else { return .invalid }
        return now - min(issued, now) > lifetime ? .stale : .fresh
    }

    private func code(issued: [UInt8], client: TransportAddress) -> HashedAuthenticationCode<SHA256> {
        var mac = keyed
        mac.update(data: macInput(issued: issued, client: client))
        return mac.finalize()
    }

    /// What the nonce's HMAC-SHA256 covers: issue time and client IP address. Not the port: a client's
    /// other connections (RFC 6062 data connections, whose ConnectionBind reuses the control connection's
    /// nonce) come from other ports of the same address.
    private func macInput(issued: [UInt8], client: TransportAddress) -> [UInt8] {
        var input = issued
        switch client.ip {
        case .v4(let address): input += withUnsafeBytes(of: address.bigEndian) { Array($0) }
        case .v6(let high, let low):
            input +=
                withUnsafeBytes(of: high.bigEndian) { Array($0) } + withUnsafeBytes(of: low.bigEndian) { Array($0) }
        }
        return input
    }
}
