import Consensus
import ConsensusSim
import RaftDriver
import Foundation
import Dispatch
import Synchronization

/// raft-soak: run many seeded Raft fault schedules and report schedules per second.
let usage = """
    usage: raft-soak [--seed N] [--count N] [--ticks N] [--nodes 3|5|both] [--jobs N] [--keep LIST] [--trace] [--no-shrink]

    Runs randomized Raft fault schedules in the deterministic simulator (drops, delays,
    duplicates, reordering, partitions, crashes losing unsynced writes, membership changes,
    leadership transfers, ReadIndex reads) and checks Raft's safety properties after every
    tick, plus progress within a bound once faults heal.

      --seed N      base seed (default: 1). With --count 1 the schedule's seed is exactly N.
      --count N     number of schedules (default: 1000); schedule k uses a seed derived from
                    the base seed and k, printed on failure
      --ticks N     chaos ticks per schedule (default: 500)
      --nodes N     cluster size: 3, 5, or both (alternating; default: both)
      --jobs N      run schedules on N threads (default: 1); results do not depend on it
      --keep LIST   replay only these fault events (comma-separated indexes, from a report)
      --trace       print the event trace of every schedule run (use with --count 1)
      --no-shrink   report failures without shrinking them
      --help        show this help

    Exit status: 0 if every schedule passed, 1 on the first failure (its report is printed).
    """

var baseSeed: UInt64 = 1
var count = 1000
var ticks = 500
var nodeChoices = [3, 5]
var kept: Set<Int>?
var trace = false
var shrink = true
var jobs = 1

var arguments = CommandLine.arguments.dropFirst()
@MainActor func value(_ flag: String) -> String {
    guard let next = arguments.popFirst() else {
        print("raft-soak: \(flag) needs a value\n\n\(usage)")
        exit(2)
    }
    return next
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--help", "-h": print(usage); exit(0)
    case "--seed": baseSeed = UInt64(value(argument)) ?? { print("raft-soak: bad seed"); exit(2) }()
    case "--count": count = Int(value(argument)) ?? 0
    case "--ticks": ticks = Int(value(argument)) ?? 0
    case "--nodes":
        let v = value(argument)
        nodeChoices = v == "both" ? [3, 5] : [Int(v) ?? 0]
    case "--keep":
        let v = value(argument)
        kept = Set(v.split(separator: ",").compactMap { Int($0) })
    case "--trace": trace = true
    case "--no-shrink": shrink = false
    case "--jobs": jobs = max(1, Int(value(argument)) ?? 1)
    default:
        print("raft-soak: unknown argument \(argument)\n\n\(usage)")
        exit(2)
    }
}
guard count > 0, ticks > 0, nodeChoices.allSatisfy({ $0 == 3 || $0 == 5 }) else {
    print("raft-soak: --count and --ticks must be positive, --nodes 3, 5 or both")
    exit(2)
}

CrashSeedReporter.install()
let soak = Soak(baseSeed: baseSeed, count: count, ticks: ticks, nodeChoices: nodeChoices, kept: kept, trace: trace, shrink: shrink)
exit(soak.run(jobs: jobs))

/// Runs the schedules, on `jobs` threads, stopping at the first failure.
struct Soak: Sendable {
    let baseSeed: UInt64
    let count: Int
    let ticks: Int
    let nodeChoices: [Int]
    let kept: Set<Int>?
    let trace: Bool
    let shrink: Bool

    private struct Progress {
        var completed = 0
        var failed = false
        var total = SimulationStats()
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Returns the exit status.
    func run(jobs: Int) -> Int32 {
        let clock = ContinuousClock()
        let started = clock.now
        let progress = Mutex(Progress())
        let nextSchedule = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: jobs) { worker in
            while true {
                let k = nextSchedule.wrappingAdd(1, ordering: .relaxed).oldValue
                if k >= count || progress.withLock({ $0.failed }) { return }
                let seed = count == 1 ? baseSeed : ScheduleRunner.seed(base: baseSeed, index: k)
                var options = SimulationOptions(nodes: nodeChoices[k % nodeChoices.count], ticks: ticks)
                options.keptEvents = kept
                options.trace = trace
                CrashSeedReporter.running(seed: seed, options: options, slot: worker)
                let simulation = Simulation(seed: seed, options: options)
                let failure = simulation.run()
                if trace { print(simulation.trace.joined(separator: "\n")) }
                if let failure {
                    let first = progress.withLock { state in
                        defer { state.failed = true }
                        return !state.failed
                    }
                    guard first else { return }
                    let elapsed = String(format: "%.2f", Self.seconds(clock.now - started))
                    print("FAILED at schedule \(k + 1) after \(elapsed) s (seed \(seed)); shrinking...")
                    print(ScheduleRunner.report(seed: seed, options: options, failure: failure, shrinkFirst: shrink && kept == nil))
                    return
                }
                let completed = progress.withLock { state in
                    state.total.add(simulation.stats)
                    state.completed += 1
                    return state.completed
                }
                if completed % max(500, count / 100) == 0 {
                    let rate = Double(completed) / Self.seconds(clock.now - started)
                    let eta = Int(Double(count - completed) / max(rate, 0.001))
                    print("\(completed) of \(count) schedules, \(String(format: "%.1f", rate)) schedules/s, ETA \(eta / 60) min \(eta % 60) s")
                    // Progress must reach a log file as it happens, not when a buffer fills
                    // (flushing every stream avoids touching the C global `stdout`).
                    fflush(nil)
                }
            }
        }
        CrashSeedReporter.finished(slot: 0)
        let (failed, total) = progress.withLock { ($0.failed, $0.total) }
        if failed { return 1 }
        let seconds = Self.seconds(clock.now - started)
        print("""
            \(count) schedules of \(ticks) ticks passed in \(String(format: "%.2f", seconds)) s on \(jobs) thread(s): \
            \(String(format: "%.1f", Double(count) / seconds)) schedules/s
            exercised: \(total.proposalsAcknowledged) acknowledged writes, \(total.readsCompleted) linearizable reads \
            (\(total.readsAfterLateDelivery) served soon after a late message), \(total.lateDeliveries) held or replayed messages delivered late, \
            \(total.elections) elections, \(total.crashes) crashes (\(ReadyStage.allCases.map { "\(total.crashesAt[$0, default: 0]) at \($0.rawValue)" }.joined(separator: ", "))), \(total.snapshotsInstalled) snapshot installs, \
            \(total.membershipChangesApplied) membership changes applied, \(total.messagesSent) messages; \
            worst heal \(total.healTicks) ticks
            """)
        return 0
    }
}
