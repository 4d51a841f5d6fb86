import ConsensusSim
import Testing

/// The CI soak: 2,000 seeded fault schedules of 500 ticks, half with 3 nodes, half with 5,
/// split into batches that Swift Testing runs in parallel. A failure reports the seed, a
/// shrunk schedule, the replay command and a trace.
@Suite struct RandomizedScheduleTests {
    static let batches = 20
    static let schedulesPerBatch = 100
    static let baseSeed: UInt64 = 0x5EED_0004

    @Test("randomized fault schedules", arguments: 0..<batches)
    func schedules(batch: Int) {
        var total = SimulationStats()
        for k in 0..<Self.schedulesPerBatch {
            let index = batch * Self.schedulesPerBatch + k
            let seed = ScheduleRunner.seed(base: Self.baseSeed, index: index)
            let options = SimulationOptions(nodes: index % 2 == 0 ? 3 : 5, ticks: 500)
            let outcome = ScheduleRunner.run(seed: seed, options: options)
            if let failure = outcome.failure {
                let report = ScheduleRunner.report(seed: seed, options: options, failure: failure)
                Issue.record("seed \(seed): \(failure)\n\(report)")
                return
            }
            total.add(outcome.stats)
        }
        // The batch must actually have exercised the machinery it claims to test.
        #expect(total.proposalsAcknowledged > 1000, "batch \(batch) acknowledged only \(total.proposalsAcknowledged) writes")
        #expect(total.readsCompleted > 100, "batch \(batch) completed only \(total.readsCompleted) reads")
        #expect(total.crashes > 50, "batch \(batch) had only \(total.crashes) crashes")
        #expect(total.snapshotsInstalled > 20, "batch \(batch) installed only \(total.snapshotsInstalled) snapshots")
        #expect(total.membershipChangesApplied > 20, "batch \(batch) applied only \(total.membershipChangesApplied) membership changes")
    }
}
