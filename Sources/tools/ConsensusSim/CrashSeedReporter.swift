#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Names the schedules in progress if the process dies. A violated invariant inside the
/// core is a `precondition` and kills the process, so the usual failure report (which
/// names the seed) never runs; this prints the seeds from the signal handler instead.
///
/// Each concurrently running schedule owns a slot holding a preformatted line, so the
/// handler only has to `write` bytes — nothing that allocates or locks.
public enum CrashSeedReporter {
    static let slotCount = 64
    static let slotBytes = 160
    nonisolated(unsafe) static let lines = UnsafeMutablePointer<UInt8>.allocate(capacity: slotCount * slotBytes)
    nonisolated(unsafe) static let lengths: UnsafeMutablePointer<Int> = {
        let pointer = UnsafeMutablePointer<Int>.allocate(capacity: slotCount)
        pointer.initialize(repeating: 0, count: slotCount)
        return pointer
    }()
    nonisolated(unsafe) static var installed = false

    /// Install the handler for the signals a failed precondition or memory fault raises.
    /// Idempotent; call before running schedules.
    public static func install() {
        if installed { return }
        installed = true
        for sig in [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS] {
            signal(sig) { received in
                let header = "\nRaft simulation crashed (an invariant precondition in the core, or a fault); schedules in progress:\n"
                header.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
                for slot in 0..<CrashSeedReporter.slotCount where CrashSeedReporter.lengths[slot] > 0 {
                    _ = write(2, CrashSeedReporter.lines + slot * CrashSeedReporter.slotBytes, CrashSeedReporter.lengths[slot])
                }
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }

    /// Record that `slot` is now running the schedule with this seed.
    public static func running(seed: UInt64, options: SimulationOptions, slot: Int) {
        let slot = slot % slotCount
        let text = "  seed \(seed): replay with chaos/raft-soak --seed \(seed) --count 1 --nodes \(options.nodes) --ticks \(options.ticks)\n"
        var count = 0
        for byte in text.utf8.prefix(slotBytes) {
            lines[slot * slotBytes + count] = byte
            count += 1
        }
        lengths[slot] = count
    }

    public static func finished(slot: Int) {
        lengths[slot % slotCount] = 0
    }
}
