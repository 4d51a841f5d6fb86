import Testing
@testable import Storage

@Test func placeholderStorage() { #expect(Bool(true)) }
