import ConsensusSim
import RaftDriver
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
        CrashSeedReporter.install()
        defer { CrashSeedReporter.finished(slot: batch) }
        var total = SimulationStats()
        for k in 0..<Self.schedulesPerBatch {
            let index = batch * Self.schedulesPerBatch + k
            let seed = ScheduleRunner.seed(base: Self.baseSeed, index: index)
            let options = SimulationOptions(nodes: index % 2 == 0 ? 3 : 5, ticks: 500)
            CrashSeedReporter.running(seed: seed, options: options, slot: batch)
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
        // Crashes strike the production driver at every stage of carrying out a Ready,
        // between persist and send included.
        for stage in ReadyStage.allCases {
            #expect(total.crashesAt[stage, default: 0] > 5, "batch \(batch) crashed only \(total.crashesAt[stage, default: 0]) times at stage \(stage)")
        }
        #expect(total.snapshotsInstalled > 20, "batch \(batch) installed only \(total.snapshotsInstalled) snapshots")
        #expect(total.membershipChangesApplied > 20, "batch \(batch) applied only \(total.membershipChangesApplied) membership changes")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replays one schedule: `INFRASTACK_SEED=<seed> [INFRASTACK_NODES=3|5]
/// [INFRASTACK_TICKS=500] swift test --filter replaySeed`. Without the variable it is off.
@Suite struct ReplaySeedTests {
    static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    @Test(.enabled(if: environment("INFRASTACK_SEED") != nil))
    func replaySeed() throws {
        let seed = try #require(UInt64(Self.environment("INFRASTACK_SEED") ?? ""), "INFRASTACK_SEED must be a decimal UInt64")
        let ticks = Int(Self.environment("INFRASTACK_TICKS") ?? "") ?? 500
        let sizes = Self.environment("INFRASTACK_NODES").flatMap { Int($0) }.map { [$0] } ?? [3, 5]
        CrashSeedReporter.install()
        for nodes in sizes {
            var options = SimulationOptions(nodes: nodes, ticks: ticks)
            options.trace = true
            CrashSeedReporter.running(seed: seed, options: options, slot: 0)
            let simulation = Simulation(seed: seed, options: options)
            if let failure = simulation.run() {
                let report = ScheduleRunner.report(seed: seed, options: options, failure: failure)
                Issue.record("seed \(seed): \(failure)\n\(report)")
            }
        }
    }
}
