import NIOCore
import STUN

/// A TURN client's side of long-term credentials (RFC 8489 §9.2.3): the first request goes unsigned,
/// the 401 teaches realm and nonce, every later request is signed; a 438 brings a fresh nonce. With
/// `sha256`, the client echoes the server's PASSWORD-ALGORITHMS and signs with SHA-256 keys and
/// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §9.2.4); otherwise it behaves like an RFC 5389 client.
public struct TURNClientAuthentication: Sendable {
    public var username: String
    public var password: String
    public var sha256: Bool
    public private(set) var realm: String?
    public private(set) var nonce: String?
    private var offeredAlgorithms: [PasswordAlgorithm]?
    private var key: STUNKey?

    public init(username: String, password: String, sha256: Bool = false) {
        self.username = username
        self.password = password
        self.sha256 = sha256
    }

    /// Encodes a request (or indication) of `type`; signed once realm and nonce are known.
    public func message(
        _ type: STUNMessageType, _ attributes: [STUNAttribute], transactionID: TransactionID = .random()
    ) -> ByteBuffer {
        guard let realm, let nonce, let key else {
            return STUNMessage(type: type, transactionID: transactionID, attributes: attributes)
                .encoded(fingerprint: true)
        }
        var all = attributes + [.username(username), .realm(realm), .nonce(nonce)]
        if sha256, let offeredAlgorithms {
            all += [.passwordAlgorithms(offeredAlgorithms), .passwordAlgorithm(.sha256)]
        }
        let signing = STUNSigning(key: key, algorithms: [sha256 ? .hmacSHA256 : .hmacSHA1])
        return STUNMessage(type: type, transactionID: transactionID, attributes: all)
            .encoded(signing: signing, fingerprint: true)
    }

    /// Takes realm, nonce and algorithms from a 401 or 438 response. True when the request is worth
    /// sending again signed with what was learnt.
    public mutating func learn(from response: STUNMessage) -> Bool {
        guard let code = response.errorCode?.code, code == 401 || code == 438,
            let nonce = response.nonce, let realm = response.realm ?? self.realm
        else { return false }
        let firstChallenge = self.realm == nil
        self.realm = realm
        self.nonce = nonce
        if case .passwordAlgorithms(let offered) = response.attribute(.passwordAlgorithms) {
            offeredAlgorithms = offered
        }
        if sha256 && !(offeredAlgorithms?.contains(.sha256) ?? false) { return false }
        key = try? STUNKey.longTerm(
            username: username, realm: realm, password: password, algorithm: sha256 ? .sha256 : .md5)
        return key != nil && (firstChallenge || code == 438)
    }

    /// Whether a response is signed with this client's key.
    public func isAuthentic(_ view: STUNMessageView) -> Bool {
        guard let key, case .valid = view.checkIntegrity(key: key) else { return false }
        return true
    }

    /// The integrity of a response checked against this client's key; nil while no key is known (the
    /// requests went unsigned, so their answers cannot be checked).
    public func integrity(of view: STUNMessageView) -> STUNIntegrityCheck? {
        key.map(view.checkIntegrity(key:))
    }
}
