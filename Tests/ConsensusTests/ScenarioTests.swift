import Consensus
import ConsensusSim
import Testing

/// Classic Raft situations, scripted message by message.
@Suite struct ScenarioTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Figure 8 of the Raft paper: a leader must not commit an entry from an earlier term
    /// just because it is stored on a majority — a later leader may still overwrite it.
    @Test func figure8OldTermEntryOnMajorityIsNotCommitted() throws {
        // The paper's setting: no pre-vote, no leader stickiness; one entry per message so
        // replication can be observed entry by entry.
        let c = ScriptedCluster(voters: 5) {
            $0.preVote = false
            $0.checkQuorum = false
            $0.maxMessageBytes = 1
        }
        #expect(c.elect(1))
        c.settle()

        // (a) S1 (term 2) replicates an entry at index x to S2 only.
        c.allowOnly([1, 2])
        let x = try c.propose(1, bytes("x"))
        c.settle()
        #expect(c.node(2).term(at: x) == 2)
        #expect(c.status(1).committed < x)

        // (b) S1 crashes; S5 wins term 3 with S3 and S4, appends its own entry at x, and
        // crashes before sending it.
        c.crash(1)
        c.allowOnly([3, 4, 5])
        c.campaign(5)
        c.deliverRound()  // vote requests
        c.deliverRound()  // votes: S5 leads and appends its no-op at x
        #expect(c.status(5).role == .leader)
        #expect(c.status(5).term == 3)
        #expect(c.node(5).term(at: x) == 3)
        c.crash(5)
        c.isolate(5)
        c.deliverRound()  // S5's appends are lost

        // (c) S1 restarts, wins term 4 with S3 and S4, and copies its term-2 entry at x to
        // them: x now sits on a majority (S1, S2, S3, S4) but its own term-4 entry does not.
        c.restart(1)
        c.allowOnly([1, 3, 4])
        c.intercept = { message in
            if message.kind == .append { message.entries.removeAll { $0.term == 4 } }
            return true
        }
        #expect(c.elect(1))
        #expect(c.status(1).term == 4)
        #expect(c.node(3).term(at: x) == 2)
        #expect(c.node(4).term(at: x) == 2)
        #expect(c.status(1).committed < x, "S1 committed an entry of term 2 by counting replicas in term 4")
        #expect(!c.appliedData[1]!.contains(bytes("x")))

        // (d) S1 crashes; S5 restarts and wins with S2, S3, S4 (its last term, 3, is newer),
        // then overwrites x everywhere. Safe only because x was never committed.
        c.crash(1)
        c.restart(5)
        c.intercept = nil
        c.allowOnly([2, 3, 4, 5])
        #expect(c.elect(5))
        c.settle()
        for id: NodeID in [2, 3, 4, 5] {
            #expect(c.node(id).term(at: x) == 3, "node \(id)")
            #expect(c.status(id).committed >= x, "node \(id)")
            #expect(!c.appliedData[id]!.contains(bytes("x")), "node \(id) applied the overwritten entry")
        }
    }

    /// PreVote: a node cut off from the cluster keeps failing pre-votes, so its term does
    /// not grow, and when it returns the healthy leader keeps leading in the same term.
    @Test func partitionedNodeReturningDoesNotUnseatLeader() throws {
        let c = ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        c.run(ticks: 5)
        let term = c.status(1).term
        c.isolate(3)
        c.run(ticks: 200)  // node 3 times out again and again
        #expect(c.status(3).term == term, "pre-vote rounds must not raise the term")
        #expect(c.status(3).role != .leader)
        c.healNetwork()
        c.run(ticks: 50)
        #expect(c.leader == 1)
        #expect(c.status(1).term == term)
        try c.propose(1, bytes("after"))
        c.run(ticks: 5)
        #expect(c.appliedData[3]!.contains(bytes("after")))
    }

    /// Leader stickiness (CheckQuorum): node 3 stops hearing the leader (one-way loss) but
    /// can still reach node 2. Its pre-vote must not win while 2 hears from a live leader,
    /// or a flaky link alone would keep deposing healthy leaders.
    @Test func followerThatStopsHearingLeaderCannotDisruptIt() {
        let c = ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        c.run(ticks: 5)
        let term = c.status(1).term
        c.cutOneWay(from: 1, to: 3)
        c.run(ticks: 100)
        #expect(c.leader == 1)
        #expect(c.status(1).term == term)
        #expect(c.status(2).term == term)
    }

    /// Without PreVote the same partition inflates node 3's term and it disrupts the leader
    /// when it returns — the contrast shows what the previous test guards against.
    @Test func withoutPreVoteReturningNodeForcesNewElection() {
        let c = ScriptedCluster(voters: 3) { $0.preVote = false; $0.checkQuorum = false }
        #expect(c.elect(1))
        c.run(ticks: 5)
        let term = c.status(1).term
        c.isolate(3)
        c.run(ticks: 200)
        #expect(c.status(3).term > term + 3)
        c.healNetwork()
        c.run(ticks: 50)
        #expect(c.status(1).term > term)
    }

    /// CheckQuorum: a leader that cannot hear from a majority steps down within an
    /// election timeout, and the majority elects a new leader.
    @Test func leaderThatLosesQuorumStepsDown() {
        let c = ScriptedCluster(voters: 5)
        #expect(c.elect(1))
        c.run(ticks: 5)
        c.allowOnly([2, 3, 4, 5])  // node 1 is alone
        c.run(ticks: 25)
        #expect(c.status(1).role == .follower)
        let newLeader = c.leader
        #expect(newLeader != nil && newLeader != 1)
    }

    /// A follower that missed entries which were since compacted receives the snapshot in
    /// several chunks, installs it, and continues with ordinary appends.
    @Test func snapshotSentToFarBehindFollower() throws {
        let c = ScriptedCluster(voters: 3) { $0.snapshotChunkBytes = 32 }
        #expect(c.elect(1))
        c.isolate(3)
        for k in 0..<30 { try c.propose(1, bytes("write \(k)")) }
        c.run(ticks: 5)
        c.compact(1)
        c.compact(2)
        #expect(c.status(1).snapshotIndex > c.status(3).lastIndex, "node 3 must need compacted entries")
        c.healNetwork()
        c.run(ticks: 20)
        #expect(c.snapshotsInstalled[3] == 1)
        #expect((c.delivered[.snapshotChunk] ?? 0) >= 7, "a 216-byte snapshot in 32-byte chunks")
        #expect(c.status(3).applied == c.status(1).applied)
        #expect(c.stateDigest(3) == c.stateDigest(1))
        try c.propose(1, bytes("after snapshot"))
        c.run(ticks: 5)
        #expect(c.appliedData[3] == [bytes("after snapshot")])
        #expect(c.stateDigest(3) == c.stateDigest(1))
    }

    /// The leader removes itself: it keeps leading until the change commits (without
    /// counting itself), then steps down, and the remaining voters elect a new leader.
    @Test func removingTheCurrentLeader() throws {
        let c = ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        c.run(ticks: 3)
        try c.proposeConfChange(1, ConfChange(.removeNode, node: 1))
        c.run(ticks: 3)
        #expect(c.status(1).role == .follower)
        #expect(c.status(2).conf.voters == [2, 3])
        c.run(ticks: 40)
        let leader = try #require(c.leader)
        #expect(leader != 1)
        try c.propose(leader, bytes("without node 1"))
        c.run(ticks: 5)
        #expect(c.appliedData[2]!.contains(bytes("without node 1")))
        #expect(c.appliedData[3]!.contains(bytes("without node 1")))
        #expect(!c.appliedData[1]!.contains(bytes("without node 1")))
        #expect(c.status(1).role == .follower, "a removed node never campaigns")
    }

    /// Two voters; the leader appends its own removal but nobody receives it. Its peer
    /// needs its vote, which it refuses (its log is newer), so only the removed-but-not-
    /// yet-committed leader can finish the change: it must still campaign (thesis 4.2.2).
    @Test func uncommittedSelfRemovalDoesNotDeadlockTwoVoters() throws {
        let c = ScriptedCluster(voters: 2)
        #expect(c.elect(1))
        c.run(ticks: 3)
        c.isolate(1)
        try c.proposeConfChange(1, ConfChange(.removeNode, node: 1))
        c.run(ticks: 30)
        #expect(c.status(1).role != .leader, "CheckQuorum: node 2 is the only voter it counts")
        c.healNetwork()
        c.run(ticks: 150)
        #expect(c.leader == 2)
        #expect(c.status(2).conf.voters == [2])
        #expect(c.status(1).role == .follower)
    }

    /// A new server joins as a learner, catches up without affecting quorums, and is then
    /// promoted to a voter that counts.
    @Test func learnerCatchesUpAndIsPromoted() throws {
        let c = ScriptedCluster(voters: 3, spares: 1)
        #expect(c.elect(1))
        for k in 0..<20 { try c.propose(1, bytes("w\(k)")) }
        c.run(ticks: 5)
        try c.proposeConfChange(1, ConfChange(.addLearner, node: 4))
        c.run(ticks: 20)
        #expect(c.status(4).conf.learners == [4])
        #expect(c.status(4).applied == c.status(1).applied)
        #expect(c.appliedData[4]!.count == 20)

        // A learner does not count: leader plus learner is not a quorum of three voters.
        c.allowOnly([1, 4])
        let unsure = try c.propose(1, bytes("needs a voter"))
        c.run(ticks: 3)
        #expect(c.status(1).committed < unsure)
        c.healNetwork()
        c.run(ticks: 5)

        try c.proposeConfChange(1, ConfChange(.addVoter, node: 4))
        c.run(ticks: 5)
        #expect(c.status(1).conf.voters == [1, 2, 3, 4])
        // Now node 4 counts: leader, 2 and 4 are a majority of four voters.
        c.allowOnly([1, 2, 4])
        let index = try c.propose(1, bytes("counted"))
        c.run(ticks: 5)
        #expect(c.status(1).committed >= index)
        #expect(c.appliedData[4]!.contains(bytes("counted")))
    }

    /// Leadership transfer: the target is brought up to date and told to campaign at once.
    @Test func leadershipTransfer() throws {
        let c = ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        try c.propose(1, bytes("before"))
        c.transferLeadership(from: 1, to: 3)
        c.settle()
        #expect(c.leader == 3)
        #expect(c.status(1).role == .follower)
        try c.propose(3, bytes("after"))
        c.settle()
        #expect(c.appliedData[1] == [bytes("before"), bytes("after")])
    }

    /// ReadIndex: a read started after a write completed returns an index covering it; a
    /// leader cut off from its majority cannot confirm any read.
    @Test func readIndexIsLinearizableAndNeedsQuorum() throws {
        let c = ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        let write = try c.propose(1, bytes("w"))
        c.settle()
        #expect(c.status(1).committed >= write)
        #expect(c.readIndex(2, context: 77))  // a follower: forwarded to the leader
        c.settle()
        let read = try #require(c.readStates[2]?.first)
        #expect(read.context == 77)
        #expect(read.index >= write)

        c.isolate(1)
        #expect(c.readIndex(1, context: 78))
        c.settle()
        #expect(c.readStates[1]?.contains { $0.context == 78 } != true)
    }
}

/// Connection-loss reports (`RawNode.reportUnreachable`): a killed leader's sockets close, so
/// its followers may campaign within a few ticks instead of a whole election timeout; a
/// report about a leader that is still alive must change nothing.
@Suite struct UnreachableLeaderTests {
    /// Three voters led by node 1, run for `ticks` after the election.
    private func ledByNode1(seed: UInt64? = nil, ticks: Int = 5) -> ScriptedCluster {
        let c = seed.map { s in ScriptedCluster(voters: 3) { $0.randomSeed = s &* 0x9E37_79B9 &+ $0.id } } ?? ScriptedCluster(voters: 3)
        #expect(c.elect(1))
        c.run(ticks: ticks)
        return c
    }

    /// Ticks until some node other than `old` leads, running the whole cluster.
    private func ticksToNewLeader(_ c: ScriptedCluster, old: NodeID, limit: Int) -> Int? {
        for t in 1...limit {
            c.run(ticks: 1)
            if let l = c.leader, l != old { return t }
        }
        return nil
    }

    @Test func killedLeaderIsReplacedWithinHalfAnElectionTimeout() {
        var all: [Int] = []
        for seed in UInt64(1)...40 {
            let c = ledByNode1(seed: seed, ticks: 3)
            c.crash(1)
            c.reportUnreachable(2, 1)
            c.reportUnreachable(3, 1)
            let ticks = ticksToNewLeader(c, old: 1, limit: 60)
            #expect(ticks != nil && ticks! <= 40, "seed \(seed): new leader after \(ticks.map(String.init) ?? "never") ticks")
            all.append(ticks ?? 60)
        }
        // Within electionTicks / 2 (5) ticks a follower campaigns, and the pre-vote and vote
        // rounds take one more. Here ticks run in lockstep, so both followers pick the same
        // tick one time in five and split the vote, falling back to the ordinary timeout; on
        // real clocks they collide only when they campaign within one round trip.
        let fast = all.filter { $0 <= 6 }.count
        #expect(fast * 10 >= all.count * 7, "only \(fast) of \(all.count) elections within 6 ticks: \(all)")
    }

    /// The contrast: without reports the followers hold their lease for a full timeout.
    @Test func withoutReportsTheFollowersWaitOutTheElectionTimeout() {
        for seed in UInt64(1)...20 {
            let c = ledByNode1(seed: seed, ticks: 3)
            c.crash(1)
            let ticks = ticksToNewLeader(c, old: 1, limit: 60)
            #expect(ticks != nil && ticks! >= 10, "seed \(seed): new leader after \(ticks.map(String.init) ?? "never") ticks")
        }
    }

    @Test func reportsAboutALiveLeaderChangeNothing() {
        let c = ledByNode1()
        let term = c.status(1).term
        for _ in 0..<200 {
            c.reportUnreachable(2, 1)
            c.reportUnreachable(3, 1)
            c.run(ticks: 1)
        }
        #expect(c.leader == 1)
        for id in c.ids { #expect(c.status(id).term == term, "node \(id) moved to term \(c.status(id).term)") }
    }

    /// One follower told its leader is gone while the other still hears it: the pre-vote
    /// fails, nothing changes term.
    @Test func aReportOnOneFollowerCannotDisruptALeaderTheOtherHears() {
        let c = ledByNode1()
        let term = c.status(1).term
        c.cutOneWay(from: 1, to: 3)
        c.reportUnreachable(3, 1)
        c.run(ticks: 100)
        #expect(c.leader == 1)
        #expect(c.status(1).term == term)
        #expect(c.status(2).term == term)
    }

    @Test func reportsAboutAPeerThatDoesNotLeadAreIgnored() {
        let c = ledByNode1()
        let before = c.status(2)
        c.reportUnreachable(2, 3)
        c.reportUnreachable(1, 2)
        #expect(c.status(2).leader == before.leader)
        #expect(c.leader == 1)
    }
}
