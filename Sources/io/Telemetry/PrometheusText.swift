/// The two text expositions a scraper may ask for, from one snapshot:
/// - Prometheus text format 0.0.4 (the default): `# HELP` and `# TYPE` per family, one
///   line per series, histograms as cumulative `_bucket` series with `le`, then `_sum`
///   and `_count`.
/// - OpenMetrics 1.0.0 (when `Accept` names it): the same samples, except that a
///   counter's family is named without its `_total` suffix, which only its samples
///   carry, and the exposition ends in `# EOF`.
extension MetricsSnapshot {
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
    public static let openMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    public enum Exposition: Sendable, Equatable {
        case prometheus, openMetrics

        /// What an `Accept` header asks for: OpenMetrics when it names
        /// `application/openmetrics-text` with a q above 0, else the Prometheus text format.
        public init(accept: String?) {
            self = .prometheus
            guard let accept else { return }
            for item in accept.split(separator: ",") {
                let parts = item.split(separator: ";").map { $0.trimmingSpaces() }
                guard parts.first?.lowercased() == "application/openmetrics-text" else { continue }
                let q = parts.dropFirst().first { $0.lowercased().hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
                if q > 0 { self = .openMetrics; return }
            }
        }

        public var contentType: String {
            self == .prometheus ? MetricsSnapshot.prometheusContentType : MetricsSnapshot.openMetricsContentType
        }
    }

    public var prometheusText: String { text(.prometheus) }
    public var openMetricsText: String { text(.openMetrics) }

    public func text(_ format: Exposition) -> String {
        var out = ""
        for f in families {
            let name = format == .openMetrics && f.kind == .counter && f.name.hasSuffix("_total") ? String(f.name.dropLast(6)) : f.name
            out += "# HELP \(name) \(Self.escapeHelp(f.help, format))\n"
            out += "# TYPE \(name) \(f.kind.rawValue)\n"
            for s in f.series {
                let pairs = zip(f.labelNames, s.labels).map { ($0, $1) }
                switch s.value {
                case .counter, .realCounter:
                    let sample = format == .openMetrics ? name + "_total" : f.name
                    out += "\(sample)\(Self.labelText(pairs)) \(Self.valueText(s.value))\n"
                case .gauge, .realGauge:
                    out += "\(name)\(Self.labelText(pairs)) \(Self.valueText(s.value))\n"
                case .histogram(let h):
                    let cumulative = h.cumulativeCounts
                    for (i, c) in cumulative.enumerated() {
                        let le = i < h.bounds.count ? Self.number(h.bounds[i]) : "+Inf"
                        out += "\(name)_bucket\(Self.labelText(pairs + [("le", le)])) \(c)\n"
                    }
                    out += "\(name)_sum\(Self.labelText(pairs)) \(Self.number(h.sum))\n"
                    out += "\(name)_count\(Self.labelText(pairs)) \(cumulative.last ?? 0)\n"
                }
            }
        }
        if format == .openMetrics { out += "# EOF\n" }
        return out
    }

    static func labelText(_ pairs: [(String, String)]) -> String {
        guard !pairs.isEmpty else { return "" }
        return "{" + pairs.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func escapeLabelValue(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Backslash and newline escaped in both formats; OpenMetrics escapes quotes too.
    static func escapeHelp(_ s: String, _ format: Exposition = .prometheus) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where format == .openMetrics: out += "\\\""
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Integer series exactly (a Double would round counters past 2^53).
    static func valueText(_ v: MetricValue) -> String {
        switch v {
        case .counter(let n): String(n)
        case .gauge(let n): String(n)
        default: number(v.number ?? .nan)
        }
    }

    /// Integral values without a fraction ("1", not "1.0"), as Prometheus's own clients write `le`.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}

private extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
