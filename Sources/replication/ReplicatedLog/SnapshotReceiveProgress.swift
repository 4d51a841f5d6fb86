/// A snapshot arriving from the leader, reported every few seconds (bytes, rate, ETA): a
/// multi-gigabyte state takes a while to arrive, and an operator should see it moving.
struct SnapshotReceiveProgress {
    static let everyMillis: UInt64 = 2000
    private var index: UInt64 = 0
    private var startedMillis: UInt64 = 0
    private var lastReportMillis: UInt64 = 0

    /// The log event's fields when one is due for `incoming` (the core's view), else nil.
    mutating func observe(_ incoming: (index: UInt64, receivedBytes: Int, totalBytes: Int)?, nowMillis: UInt64) -> [(String, Any)]? {
        guard let incoming else {
            index = 0
            return nil
        }
        precondition(incoming.receivedBytes <= incoming.totalBytes, "a snapshot holds no more bytes than it declares")
        if incoming.index != index {
            index = incoming.index
            startedMillis = nowMillis
            lastReportMillis = nowMillis
            return nil
        }
        guard nowMillis >= lastReportMillis + Self.everyMillis else { return nil }
        lastReportMillis = nowMillis
        precondition(nowMillis > startedMillis, "a report is due only after the transfer began")
        let seconds = Double(nowMillis - startedMillis) / 1000
        let rate = Double(incoming.receivedBytes) / seconds
        let mib = { (b: Int) in (Double(b) / 1_048_576 * 10).rounded() / 10 }
        return [("index", incoming.index), ("receivedMiB", mib(incoming.receivedBytes)), ("totalMiB", mib(incoming.totalBytes)),
                ("MiBPerSecond", (rate / 1_048_576 * 10).rounded() / 10),
                ("etaSeconds", rate > 0 ? Int((Double(incoming.totalBytes - incoming.receivedBytes) / rate).rounded()) : -1)]
    }
}
