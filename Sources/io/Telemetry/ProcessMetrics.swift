#if canImport(Glibc)
import Glibc
#endif

/// The process's own resources as Prometheus's client libraries name them
/// (`process_*`), read from /proc at each snapshot, plus the build's version.
public enum ProcessMetrics {
    /// The product version, shown by `--version`, `/status` and `infrastack_build_info`.
    public static let version = "0.1.0"

    public static func register(in registry: MetricsRegistry) {
        let proc = RecentReading { ProcSelf.read() }
        func one(_ name: String, _ help: String, _ kind: MetricKind, _ value: @escaping @Sendable (ProcSelf) -> MetricValue?) {
            registry.collect(name, help: help, kind: kind, labels: []) {
                guard let p = proc.value, let v = value(p) else { return [] }
                return [MetricSeries(value: v)]
            }
        }
        one("process_cpu_seconds_total", "User and system CPU time spent, in seconds", .counter) { .realCounter($0.cpuSeconds) }
        one("process_resident_memory_bytes", "Resident memory size in bytes", .gauge) { .gauge(Int64(clamping: $0.residentBytes)) }
        one("process_virtual_memory_bytes", "Virtual memory size in bytes", .gauge) { .gauge(Int64(clamping: $0.virtualBytes)) }
        one("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds", .gauge) { $0.startTimeSeconds.map { .realGauge($0) } }
        one("process_threads", "Threads of the process", .gauge) { .gauge(Int64($0.threads)) }
        one("process_open_fds", "Open file descriptors", .gauge) { $0.openFDs.map { .gauge(Int64($0)) } }
        one("process_max_fds", "The limit on open file descriptors (RLIMIT_NOFILE, soft)", .gauge) { $0.maxFDs.map { .gauge(Int64(clamping: $0)) } }
        registry.collect("infrastack_build_info", help: "1, labelled with the version this node runs", kind: .gauge,
                         labels: [.allowed("version", [version])]) { [MetricSeries(labels: [version], value: .gauge(1))] }
    }
}

/// One reading of /proc/self: stat's fields (proc(5)), the fd directory and the limit.
struct ProcSelf: Sendable {
    var cpuSeconds: Double
    var residentBytes: UInt64
    var virtualBytes: UInt64
    var threads: Int
    var startTimeSeconds: Double?
    var openFDs: Int?
    var maxFDs: UInt64?

    static func read() -> ProcSelf? {
        guard let stat = readFile("/proc/self/stat") else { return nil }
        guard var p = parse(stat: stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: UInt64(sysconf(Int32(_SC_PAGESIZE)))) else { return nil }
        if let bootTime = readFile("/proc/stat").flatMap(parseBootTime), let ticks = p.startTimeSeconds {
            p.startTimeSeconds = bootTime + ticks
        } else {
            p.startTimeSeconds = nil
        }
        p.openFDs = countEntries("/proc/self/fd")
        var lim = rlimit()
        if getrlimit(RLIMIT_NOFILE_VALUE, &lim) == 0 { p.maxFDs = UInt64(lim.rlim_cur) }
        return p
    }

    /// Fields after the command name (which may hold spaces and parentheses, so the text
    /// is split after its last ')'): utime 14, stime 15, num_threads 20, starttime 22,
    /// vsize 23, rss 24 (1-based, as proc(5) numbers them). `startTimeSeconds` is left
    /// as seconds after boot.
    static func parse(stat: String, ticksPerSecond: Double, pageSize: UInt64) -> ProcSelf? {
        guard ticksPerSecond > 0, let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        // rest[0] is field 3 (state).
        func field(_ n: Int) -> UInt64? { n - 3 < rest.count ? UInt64(rest[n - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let threads = field(20), let start = field(22),
              let vsize = field(23), let rss = field(24) else { return nil }
        return ProcSelf(cpuSeconds: Double(utime + stime) / ticksPerSecond, residentBytes: rss * pageSize, virtualBytes: vsize,
                        threads: Int(threads), startTimeSeconds: Double(start) / ticksPerSecond)
    }

    static func parseBootTime(_ stat: String) -> Double? {
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingPrefix(while: { $0 == " " }))
        }
        return nil
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
            if out.count > 1 << 20 { break }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func countEntries(_ dir: String) -> Int? {
        guard let d = opendir(dir) else { return nil }
        defer { closedir(d) }
        var n = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { n += 1 }
        }
        // The directory stream itself holds one descriptor while it is read.
        return max(n - 1, 0)
    }
}

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

private extension Substring {
    func trimmingPrefix(while p: (Character) -> Bool) -> Substring { drop(while: p) }
}
