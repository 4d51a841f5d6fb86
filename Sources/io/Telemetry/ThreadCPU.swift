#if canImport(Glibc)
import Glibc
#endif

/// CPU time of the calling thread, for attributing work to pipeline stages that share a
/// process (wall time would also count waiting for the disk, the network or a lock).
public enum ThreadCPU {
    public static func micros() -> UInt64 {
        var ts = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 else { return 0 }
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
