import Testing
@testable import Consensus

@Test func placeholderConsensus() { #expect(Bool(true)) }
