import NIOCore

/// One STUN attribute, decoded to its typed value.
///
/// Covers every attribute of RFC 8489 (STUN), RFC 8656 (TURN), RFC 6062 (TURN TCP) and RFC 6156's address
/// families, plus the ICE attributes WebRTC checks carry. Anything else is kept as ``unknown(type:value:)``.
public enum STUNAttribute: Hashable, Sendable {
    case mappedAddress(TransportAddress)
    case xorMappedAddress(TransportAddress)
    case username(String)
    case userhash([UInt8])
    case messageIntegrity([UInt8])
    case messageIntegritySHA256([UInt8])
    case fingerprint(UInt32)
    case errorCode(STUNErrorCode)
    case realm(String)
    case nonce(String)
    case passwordAlgorithm(PasswordAlgorithm)
    case passwordAlgorithms([PasswordAlgorithm])
    case unknownAttributes([UInt16])
    case software(String)
    case alternateServer(TransportAddress)
    case alternateDomain(String)
    case channelNumber(UInt16)
    case lifetime(UInt32)
    case xorPeerAddress(TransportAddress)
    case data(ByteBuffer)
    case xorRelayedAddress(TransportAddress)
    case requestedAddressFamily(AddressFamily)
    case additionalAddressFamily(AddressFamily)
    case addressErrorCode(family: AddressFamily, error: STUNErrorCode)
    case evenPort(reserveNextPort: Bool)
    /// An IANA protocol number: 17 for UDP, 6 for TCP.
    case requestedTransport(UInt8)
    case dontFragment
    case reservationToken(UInt64)
    case icmp(type: UInt8, code: UInt8, data: UInt32)
    case connectionID(UInt32)
    case priority(UInt32)
    case useCandidate
    case iceControlled(tieBreaker: UInt64)
    case iceControlling(tieBreaker: UInt64)
    case unknown(type: STUNAttributeType, value: ByteBuffer)

    /// The attribute's type code.
    public var type: STUNAttributeType {
        switch self {
        case .mappedAddress: .mappedAddress
        case .xorMappedAddress: .xorMappedAddress
        case .username: .username
        case .userhash: .userhash
        case .messageIntegrity: .messageIntegrity
        case .messageIntegritySHA256: .messageIntegritySHA256
        case .fingerprint: .fingerprint
        case .errorCode: .errorCode
        case .realm: .realm
        case .nonce: .nonce
        case .passwordAlgorithm: .passwordAlgorithm
        case .passwordAlgorithms: .passwordAlgorithms
        case .unknownAttributes: .unknownAttributes
        case .software: .software
        case .alternateServer: .alternateServer
        case .alternateDomain: .alternateDomain
        case .channelNumber: .channelNumber
        case .lifetime: .lifetime
        case .xorPeerAddress: .xorPeerAddress
        case .data: .data
        case .xorRelayedAddress: .xorRelayedAddress
        case .requestedAddressFamily: .requestedAddressFamily
        case .additionalAddressFamily: .additionalAddressFamily
        case .addressErrorCode: .addressErrorCode
        case .evenPort: .evenPort
        case .requestedTransport: .requestedTransport
        case .dontFragment: .dontFragment
        case .reservationToken: .reservationToken
        case .icmp: .icmp
        case .connectionID: .connectionID
        case .priority: .priority
        case .useCandidate: .useCandidate
        case .iceControlled: .iceControlled
        case .iceControlling: .iceControlling
        case .unknown(let type, _): type
        }
    }
}

extension STUNAttributeType {
    /// Whether PartyLine's codec decodes this type to a typed value (rather than ``STUNAttribute/unknown(type:value:)``).
    public var isKnown: Bool {
        switch rawValue {
        case 0x0001, 0x0006, 0x0008, 0x0009, 0x000A, 0x000C, 0x000D, 0x0012, 0x0013, 0x0014, 0x0015, 0x0016,
            0x0017, 0x0018, 0x0019, 0x001A, 0x001C, 0x001D, 0x001E, 0x0020, 0x0022, 0x0024, 0x0025, 0x002A,
            0x8000, 0x8001, 0x8002, 0x8003, 0x8004, 0x8022, 0x8023, 0x8028, 0x8029, 0x802A:
            true
        default:
            false
        }
    }
}
