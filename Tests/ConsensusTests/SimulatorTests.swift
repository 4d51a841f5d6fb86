import Consensus
import ConsensusSim
import Testing

@Suite struct SimulatorTests {
    @Test func sameSeedReplaysExactly() {
        for seed: UInt64 in [1, 42, 0xDEAD_BEEF] {
            let options = SimulationOptions(nodes: 5, ticks: 400)
            let first = ScheduleRunner.run(seed: seed, options: options)
            let second = ScheduleRunner.run(seed: seed, options: options)
            #expect(first.failure == nil, "seed \(seed): \(String(describing: first.failure))")
            #expect(first.stats == second.stats, "seed \(seed) did not replay identically")
            #expect(first.stats.messagesSent > 0)
        }
    }

    @Test func differentSeedsDiffer() {
        let options = SimulationOptions(nodes: 3, ticks: 300)
        let a = ScheduleRunner.run(seed: 7, options: options)
        let b = ScheduleRunner.run(seed: 8, options: options)
        #expect(a.stats != b.stats)
    }

    /// An impossible liveness bound makes every schedule fail, which lets us check the
    /// failure path itself: the report names the seed, shrinks, and replays.
    @Test func failureReportNamesSeedAndShrinks() {
        let seed: UInt64 = 12345
        var options = SimulationOptions(nodes: 3, ticks: 200)
        options.healBound = 1
        let outcome = ScheduleRunner.run(seed: seed, options: options)
        let failure = try! #require(outcome.failure)
        #expect(failure.message.hasPrefix("liveness"))
        let (shrunk, shrunkFailure) = ScheduleRunner.shrink(seed: seed, options: options, failure: failure)
        #expect(shrunk.keptEvents!.isEmpty, "no fault event is needed to miss a 1-tick bound")
        #expect(shrunkFailure.message.hasPrefix("liveness"))
        let report = ScheduleRunner.report(seed: seed, options: options, failure: failure)
        #expect(report.contains("seed \(seed)"))
        #expect(report.contains("--seed \(seed)"))
        // Replaying the shrunk options fails the same way.
        #expect(Simulation(seed: seed, options: shrunk).run()?.message == shrunkFailure.message)
    }
}
