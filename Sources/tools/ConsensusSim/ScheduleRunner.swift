import Consensus

/// Runs schedules by seed, shrinks failing ones, and formats reports that say how to replay.
public enum ScheduleRunner {
    public struct Outcome: Sendable {
        public var seed: UInt64
        public var failure: SimulationFailure?
        public var stats: SimulationStats
    }

    public static func run(seed: UInt64, options: SimulationOptions) -> Outcome {
        let simulation = Simulation(seed: seed, options: options)
        let failure = simulation.run()
        return Outcome(seed: seed, failure: failure, stats: simulation.stats)
    }

    /// The seed of schedule `k` in a batch starting from `base`: spread out so neighbouring
    /// schedules share nothing.
    public static func seed(base: UInt64, index: Int) -> UInt64 {
        var rng = SplitMix64(seed: base &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
        return rng.next()
    }

    /// Greedily drop fault events (and chaos ticks after the failure) while the schedule
    /// still fails. Returns options that replay the smallest failing variant found.
    public static func shrink(seed: UInt64, options: SimulationOptions, failure: SimulationFailure) -> (options: SimulationOptions, failure: SimulationFailure) {
        // Only variants that break the same property count, so shrinking cannot wander
        // off to a different bug.
        let property = failure.message.prefix { $0 != ":" }
        func sameBug(_ candidate: SimulationOptions) -> SimulationFailure? {
            guard let f = Simulation(seed: seed, options: candidate).run(), f.message.hasPrefix(property) else { return nil }
            return f
        }
        var best = options
        var bestFailure = failure
        if failure.tick < options.ticks {
            var shorter = options
            shorter.ticks = failure.tick + 1
            if let f = sameBug(shorter) {
                best = shorter
                bestFailure = f
            }
        }
        let eventCount = Simulation(seed: seed, options: best).events.count
        var kept = best.keptEvents ?? Set(0..<eventCount)
        var progress = true
        while progress {
            progress = false
            for event in kept.sorted() {
                var candidate = best
                candidate.keptEvents = kept.subtracting([event])
                if let f = sameBug(candidate) {
                    kept.remove(event)
                    best = candidate
                    bestFailure = f
                    progress = true
                }
            }
        }
        best.keptEvents = kept
        return (best, bestFailure)
    }

    /// A complete failure report: seed, violation, shrunk schedule, replay command, trace.
    public static func report(seed: UInt64, options: SimulationOptions, failure: SimulationFailure, shrinkFirst: Bool = true) -> String {
        let (shrunk, shrunkFailure) = shrinkFirst ? shrink(seed: seed, options: options, failure: failure) : (options, failure)
        var traced = shrunk
        traced.trace = true
        let replay = Simulation(seed: seed, options: traced)
        _ = replay.run()
        var lines: [String] = []
        lines.append("Raft simulation failed: seed \(seed) (nodes \(options.nodes), ticks \(options.ticks))")
        lines.append("violation: \(failure)")
        lines.append("network: \(replay.networkProfile)")
        lines.append("shrunk: \(shrunkFailure) with \(shrunk.keptEvents?.count ?? replay.events.count) of \(replay.events.count) fault events, \(shrunk.ticks) chaos ticks")
        for index in (shrunk.keptEvents ?? Set(replay.events.indices)).sorted() {
            lines.append("  event \(index): \(replay.events[index])")
        }
        // Without a kept set every event replays; an empty --keep would replay none.
        let keep = shrunk.keptEvents.map { " --keep '" + $0.sorted().map(String.init).joined(separator: ",") + "'" } ?? ""
        lines.append("replay: chaos/raft-soak --seed \(seed) --nodes \(options.nodes) --ticks \(shrunk.ticks)\(keep) --trace")
        lines.append("trace of the shrunk schedule (last 60 events):")
        lines.append(contentsOf: replay.trace.suffix(60).map { "  " + $0 })
        return lines.joined(separator: "\n")
    }
}
