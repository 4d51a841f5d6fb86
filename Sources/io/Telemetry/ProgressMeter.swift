import Foundation

/// "N of M blocks, rate, ETA" on a line at most once per `interval`, and once at the end.
/// The rate counts only this run's work: units found complete from an earlier run are in
/// N but not in the rate, so a resumed export does not promise an ETA it cannot keep.
public final class ProgressMeter {
    let what: String
    let unit: String
    let total: UInt64?
    let interval: Double
    let now: () -> Double
    let emit: (String) -> Void
    public private(set) var done: UInt64 = 0
    private var base: UInt64 = 0
    private var started: Double
    private var lastEmit: Double?

    public init(what: String, unit: String, total: UInt64?, interval: Double = 1, now: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime },
                emit: @escaping (String) -> Void) {
        self.what = what; self.unit = unit; self.total = total; self.interval = interval; self.now = now; self.emit = emit
        started = now()
    }

    /// Units an earlier run already finished.
    public func resumed(_ n: UInt64) {
        done += n
        base = done
        started = now()
    }

    public func advance(_ n: UInt64) {
        done += n
        let t = now()
        if let last = lastEmit, t - last < interval { return }
        if lastEmit == nil, t - started < interval { return }
        lastEmit = t
        emit(line(at: t))
    }

    /// The count reached so far, for work that reports totals rather than increments.
    public func reached(_ n: UInt64) { advance(n - min(n, done)) }

    /// Units counted for work that is being redone.
    public func retract(_ n: UInt64) { done -= min(n, done - base) }

    public func finish() { emit(line(at: now()) + ", done") }

    func line(at t: Double) -> String {
        let elapsed = t - started
        let rate = elapsed > 0 ? Double(done - base) / elapsed : 0
        return Self.format(what: what, unit: unit, done: done, total: total, rate: rate)
    }

    /// `export blocks: 1200 of 5000 blocks (24%), 850 blocks/s, ETA 4s`
    public static func format(what: String, unit: String, done: UInt64, total: UInt64?, rate: Double) -> String {
        var s = "\(what): \(done)"
        if let total {
            let pct = total == 0 ? 100 : Int((Double(done) / Double(total) * 100).rounded(.down))
            s += " of \(total) \(unit) (\(pct)%)"
        } else {
            s += " \(unit)"
        }
        s += ", \(rate >= 10 || rate == 0 ? String(Int(rate.rounded())) : String(format: "%.1f", rate)) \(unit)/s"
        if let total, done < total {
            s += rate > 0 ? ", ETA \(duration(Double(total - done) / rate))" : ", ETA unknown"
        }
        return s
    }

    /// 45s, 3m05s, 2h07m.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + String(format: "%02ds", s % 60) }
        return "\(s / 3600)h" + String(format: "%02dm", (s % 3600) / 60)
    }
}
