/// A PASSWORD-ALGORITHM entry (RFC 8489 §14.5, §18.5): the algorithm number and its opaque parameters.
public struct PasswordAlgorithm: Hashable, Sendable {
    public var number: UInt16
    public var parameters: [UInt8]

    public init(number: UInt16, parameters: [UInt8] = []) {
        self.number = number
        self.parameters = parameters
    }

    public static let md5 = PasswordAlgorithm(number: 0x0001)
    public static let sha256 = PasswordAlgorithm(number: 0x0002)
}
