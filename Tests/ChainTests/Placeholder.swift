import Testing
@testable import Chain

@Test func placeholderChain() { #expect(Bool(true)) }
