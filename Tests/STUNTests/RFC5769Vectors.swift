import NIOCore

/// RFC 5769 §2 test vectors and RFC 8489 Appendix B.1 (as corrected by erratum 6268), as hex.
enum TestVectors {
    static let password = "VOkJxbRl1RmTxUk/WvJxBt"

    static let sampleRequest = hex(
        """
        000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573742063\
        6c69656e74002400046e0001ff80290008932ff9b151263b3600060009657674\
        6a3a6836765920202000080014 9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2\
        80280004e57a3bcf
        """)

    static let ipv4Response = hex(
        """
        0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f72\
        2000200008 0001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53\
        f06be7d780280004c07d4c96
        """)

    static let ipv6Response = hex(
        """
        010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f72\
        20002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e\
        4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c
        """)

    static let longTermRequest = hex(
        """
        000100602112a442 78ad3433c6ad72c029da412e00060012e3839ee38388e383aa\
        e38383e382afe382b9000000150 01c662f2f343939 6b39353464364f4c33346f4c\
        3946535476793634734100140 00b6578616d706c652e6f7267000008 0014f670\
        24656dd64a3e02b8e0712e85c9a28ca89666
        """)

    /// RFC 8489 B.1 with erratum 6268: USERHASH, NONCE, REALM, PASSWORD-ALGORITHM, MESSAGE-INTEGRITY-SHA256.
    static let sha256Request = hex(
        """
        000100902112a44278ad3433c6ad72c029da412e001e00204a3cf38fef6992bda952c678\
        0417da0f248194 15569e60b205c46e41407f17040015002 96f624d61744a6f7332414141\
        43662f2f3439396b3935346436 4f4c33346f4c39465354767936347341000000\
        0014000b6578616d706c652e6f726700001d0004000200000 01c0020b5c7bf005b6c52a2\
        1c51c5e892f8192413 6296cb927c43149309278cc6518e65
        """)

    /// "マトリックス" and the SASLprep input "The\u{AD}M\u{AA}tr\u{2168}" → "TheMatrIX".
    static let longTermUsername = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}"
    static let longTermPassword = "The\u{00AD}M\u{00AA}tr\u{2168}"

    static func hex(_ text: String) -> ByteBuffer {
        let digits = text.filter(\.isHexDigit)
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return ByteBuffer(bytes: bytes)
    }
}
