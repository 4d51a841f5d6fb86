import Glibc
import Storage
import Telemetry

/// The LMDB environment and the filesystem under the data directory, read at each snapshot
/// (`mdb_env_info`, `statvfs`): what the "map almost full" and "disk almost full" alerts watch.
enum StorageMetrics {
    static func register(env: Environment, dataDir: String, in registry: MetricsRegistry) {
        let lmdbStats = RecentReading { try? env.stats() }
        let filesystem = RecentReading { () -> statvfs? in
            var st = statvfs()
            return statvfs(dataDir, &st) == 0 ? st : nil
        }
        func lmdb(_ name: String, _ help: String, _ value: @escaping @Sendable (EnvironmentStats) -> Int) {
            registry.collect(name, help: help, kind: .gauge, labels: []) {
                guard let s = lmdbStats.value else { return [] }
                return [MetricSeries(value: .gauge(Int64(value(s))))]
            }
        }
        lmdb("lmdb_map_size_bytes", "The LMDB map's current size (it grows on demand up to lmdb_map_limit_bytes)") { $0.mapSize }
        lmdb("lmdb_used_bytes", "Bytes of the map in use: pages up to the last allocated one") { $0.usedBytes }
        lmdb("lmdb_reader_slots_used", "Reader-table slots ever used (a high-water mark)") { $0.readerSlotsUsed }
        lmdb("lmdb_max_readers", "Reader-table slots") { $0.maxReaders }
        let limit = Int64(clamping: env.options.maximumMapSize)
        registry.collect("lmdb_map_limit_bytes", help: "The size the LMDB map may grow to; a write past it fails and raises the disk alarm",
                         kind: .gauge, labels: []) { [MetricSeries(value: .gauge(limit))] }
        func disk(_ name: String, _ help: String, _ value: @escaping @Sendable (statvfs) -> UInt64) {
            registry.collect(name, help: help, kind: .gauge, labels: []) {
                guard let st = filesystem.value else { return [] }
                return [MetricSeries(value: .gauge(Int64(clamping: value(st))))]
            }
        }
        disk("data_filesystem_size_bytes", "Size of the filesystem holding the data directory") { UInt64($0.f_blocks) * UInt64($0.f_frsize) }
        disk("data_filesystem_avail_bytes", "Bytes of that filesystem available to this process") { UInt64($0.f_bavail) * UInt64($0.f_frsize) }
    }
}
