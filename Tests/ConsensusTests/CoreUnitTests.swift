@testable import Consensus
import Testing

/// Small pieces of the core, tested directly.
@Suite struct CoreUnitTests {
    @Test func confChangeRoundTrips() {
        for kind in [ConfChange.Kind.addVoter, .addLearner, .removeNode] {
            for node: NodeID in [1, 255, 256, .max] {
                let change = ConfChange(kind, node: node)
                #expect(ConfChange(decoding: change.encoded()) == change)
            }
        }
        #expect(ConfChange(decoding: [9, 0, 0, 0, 0, 0, 0, 0, 1]) == nil, "unknown kind")
        #expect(ConfChange(decoding: [1, 0]) == nil, "truncated")
    }

    @Test func confStateApplyingSingleServerChanges() {
        let start = ConfState(voters: [1, 2, 3])
        let withLearner = start.applying(ConfChange(.addLearner, node: 4))
        #expect(withLearner.voters == [1, 2, 3])
        #expect(withLearner.learners == [4])
        let promoted = withLearner.applying(ConfChange(.addVoter, node: 4))
        #expect(promoted.voters == [1, 2, 3, 4])
        #expect(promoted.learners.isEmpty)
        #expect(promoted.quorum == 3)
        let removed = promoted.applying(ConfChange(.removeNode, node: 2))
        #expect(removed.voters == [1, 3, 4])
        #expect(removed.quorum == 2)
    }

    @Test func inflightsCountAndBytes() {
        var inflights = Inflights(maxCount: 3, maxBytes: 100)
        inflights.add(lastIndex: 5, bytes: 10)
        inflights.add(lastIndex: 7, bytes: 10)
        #expect(!inflights.isFull)
        inflights.add(lastIndex: 9, bytes: 10)
        #expect(inflights.isFull, "three messages")
        inflights.free(through: 7)
        #expect(inflights.count == 1)
        #expect(inflights.bytes == 10)
        inflights.add(lastIndex: 12, bytes: 95)
        #expect(inflights.isFull, "byte budget")
        inflights.free(through: 100)
        #expect(inflights.count == 0 && inflights.bytes == 0)
    }

    @Test func raftLogTermsSlicesAndCompaction() {
        let entries = (1...6).map { Entry(term: $0 <= 3 ? 1 : 2, index: UInt64($0), data: [UInt8($0)]) }
        var log = RaftLog(snapshotIndex: 0, snapshotTerm: 0, entries: entries, committed: 4, applied: 4)
        #expect(log.lastIndex == 6 && log.lastTerm == 2)
        #expect(log.term(at: 0) == 0 && log.term(at: 3) == 1 && log.term(at: 7) == nil)
        #expect(log.lastIndex(ofTerm: 1) == 3)
        #expect(log.firstIndex(ofTermAt: 6) == 4)
        #expect(log.slice(from: 2, through: 6, maxBytes: 1).count == 1, "at least one entry")
        #expect(log.slice(from: 2, through: 6, maxBytes: 1000).count == 5)
        #expect(log.isUpToDate(lastIndex: 5, lastTerm: 2) == false)
        #expect(log.isUpToDate(lastIndex: 1, lastTerm: 3))
        log.truncate(from: 6)
        #expect(log.lastIndex == 5)
        log.compact(to: 3)
        #expect(log.snapshotIndex == 3 && log.snapshotTerm == 1)
        #expect(log.term(at: 2) == nil && log.term(at: 3) == 1 && log.term(at: 4) == 2)
        #expect(log.committedUnapplied(maxCount: 10).isEmpty)
        log.commit(to: 5)
        #expect(log.committedUnapplied(maxCount: 10).map(\.index) == [5])
    }

    @Test func bootstrapPutsTheFoundingConfigurationInTheLog() {
        let state = PersistedState.bootstrap(voters: [3, 1, 2])
        #expect(state.entries.map(\.index) == [1, 2, 3])
        #expect(state.entries.allSatisfy { $0.term == 1 && $0.kind == .confChange })
        #expect(state.hardState.commit == 3)
        let node = RawNode(config: RaftConfig(id: 2, randomSeed: 1), restoringFrom: state)
        #expect(node.configuration.voters == [1, 2, 3])
        let joiner = RawNode(config: RaftConfig(id: 4, randomSeed: 1), restoringFrom: .joining)
        #expect(joiner.configuration.voters.isEmpty)
    }

    /// The same seed draws the same election timeouts: the core's only randomness.
    @Test func electionTimeoutsComeFromTheSeed() {
        func firstCampaignTick(seed: UInt64) -> Int {
            var node = RawNode(config: RaftConfig(id: 1, randomSeed: seed), restoringFrom: .bootstrap(voters: [1, 2, 3]))
            for tick in 1...100 {
                node.tick()
                if node.role != .follower { return tick }
            }
            return -1
        }
        let ticks = (1...20).map { firstCampaignTick(seed: $0) }
        #expect(ticks == (1...20).map { firstCampaignTick(seed: $0) })
        #expect(ticks.allSatisfy { (10..<20).contains($0) })
        #expect(Set(ticks).count > 1, "timeouts are randomized across seeds")
    }
}
