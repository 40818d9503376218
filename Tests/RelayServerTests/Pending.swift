import Testing
@Test func relayPlaceholder() { #expect(Bool(true)) }
