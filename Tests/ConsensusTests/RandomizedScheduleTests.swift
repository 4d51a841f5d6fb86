import Consensus
import ConsensusSim
import RaftDriver
import Testing

/// The CI soak, in three parts:
/// - a fixed floor: 2,000 seeded fault schedules of 500 ticks, half with 3 nodes, half with
///   5, the same every run, so a regression in what they cover fails every time;
/// - fresh schedules from a seed drawn for this run (printed first; set
///   `INFRASTACK_SIM_SEED` to replay it), so each run explores schedules no run saw before;
/// - the corpus `FailedSeeds.txt`: every schedule that ever failed, replayed every run.
/// Batches run in parallel. A failure reports the seed, a shrunk schedule, the replay
/// command and a trace, and the line to add to the corpus.
@Suite struct RandomizedScheduleTests {
    static let batches = 20
    static let schedulesPerBatch = 100
    static let baseSeed: UInt64 = 0x5EED_0004
    static let freshBatches = 8
    static let freshPerBatch = 60

    /// This run's fresh seed: from `INFRASTACK_SIM_SEED`, or the clock and process id.
    static let freshSeed: UInt64 = {
        let seed: UInt64
        if let text = ReplaySeedTests.environment("INFRASTACK_SIM_SEED"), let given = UInt64(text) {
            seed = given
        } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            var rng = SplitMix64(seed: UInt64(now.tv_sec) &* 1_000_000_007 ^ UInt64(now.tv_nsec) ^ UInt64(getpid()) << 32)
            seed = rng.next()
        }
        print("RandomizedScheduleTests: fresh seed \(seed) (replay with INFRASTACK_SIM_SEED=\(seed) swift test --filter RandomizedScheduleTests)")
        return seed
    }()

    @Test("randomized fault schedules, fixed floor", arguments: 0..<batches)
    func schedules(batch: Int) {
        let total = Self.runBatch(base: Self.baseSeed, first: batch * Self.schedulesPerBatch, count: Self.schedulesPerBatch, slot: batch)
        guard let total else { return }
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
        // Old messages arrive late (held across elections, replayed from earlier terms),
        // and reads are served right after them.
        #expect(total.lateDeliveries > 1000, "batch \(batch) delivered only \(total.lateDeliveries) messages late")
        #expect(total.readsAfterLateDelivery > 40, "batch \(batch) served only \(total.readsAfterLateDelivery) reads soon after a late message")
        // Connection-loss reports reach the cores, after crashes and spuriously about live leaders.
        #expect(total.unreachableReports > 100, "batch \(batch) handed only \(total.unreachableReports) unreachable reports to nodes")
        #expect(total.spuriousUnreachableReports > 40, "batch \(batch) made only \(total.spuriousUnreachableReports) spurious unreachable reports")
    }

    @Test("randomized fault schedules, fresh seed", arguments: 0..<freshBatches)
    func freshSchedules(batch: Int) {
        let total = Self.runBatch(base: Self.freshSeed, first: batch * Self.freshPerBatch, count: Self.freshPerBatch, slot: Self.batches + batch)
        if let total { #expect(total.proposalsAcknowledged > 300, "fresh batch \(batch) acknowledged only \(total.proposalsAcknowledged) writes") }
    }

    @Test("every schedule that ever failed")
    func corpus() throws {
        let entries = try FailedSeedCorpus.load()
        #expect(!entries.isEmpty, "the corpus \(FailedSeedCorpus.path) is empty")
        CrashSeedReporter.install()
        defer { CrashSeedReporter.finished(slot: Self.batches + Self.freshBatches) }
        for entry in entries {
            CrashSeedReporter.running(seed: entry.seed, options: entry.options, slot: Self.batches + Self.freshBatches)
            if let failure = Simulation(seed: entry.seed, options: entry.options).run() {
                Issue.record("corpus seed \(entry.seed) (\(entry.note)) fails again: \(failure)\n\(ScheduleRunner.report(seed: entry.seed, options: entry.options, failure: failure, shrinkFirst: false))")
            }
        }
    }

    /// Runs `count` schedules from `first` on; returns their totals, or nil after
    /// recording the first failure.
    static func runBatch(base: UInt64, first: Int, count: Int, slot: Int) -> SimulationStats? {
        CrashSeedReporter.install()
        defer { CrashSeedReporter.finished(slot: slot) }
        var total = SimulationStats()
        for index in first..<(first + count) {
            let seed = ScheduleRunner.seed(base: base, index: index)
            let options = SimulationOptions(nodes: index % 2 == 0 ? 3 : 5, ticks: 500)
            CrashSeedReporter.running(seed: seed, options: options, slot: slot)
            let outcome = ScheduleRunner.run(seed: seed, options: options)
            if let failure = outcome.failure {
                let report = ScheduleRunner.report(seed: seed, options: options, failure: failure)
                let line = FailedSeedCorpus.line(seed: seed, options: options, note: String(failure.message.prefix(80)))
                let stored = FailedSeedCorpus.append(line) ? "stored in \(FailedSeedCorpus.path)" : "add it to \(FailedSeedCorpus.path)"
                Issue.record("seed \(seed): \(failure)\ncorpus line (\(stored)): \(line)\n\(report)")
                return nil
            }
            total.add(outcome.stats)
        }
        return total
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
