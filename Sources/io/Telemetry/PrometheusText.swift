/// The Prometheus text exposition format (version 0.0.4) of a snapshot, for a `/metrics`
/// endpoint: `# HELP` and `# TYPE` per family, one line per series, histograms as
/// cumulative `_bucket` series with `le`, then `_sum` and `_count`.
extension MetricsSnapshot {
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    public var prometheusText: String {
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(Self.escapeHelp(f.help))\n"
            out += "# TYPE \(f.name) \(f.kind.rawValue)\n"
            for s in f.series {
                let pairs = zip(f.labelNames, s.labels).map { ($0, $1) }
                switch s.value {
                case .counter(let v): out += "\(f.name)\(Self.labelText(pairs)) \(v)\n"
                case .gauge(let v): out += "\(f.name)\(Self.labelText(pairs)) \(v)\n"
                case .histogram(let h):
                    let cumulative = h.cumulativeCounts
                    for (i, c) in cumulative.enumerated() {
                        let le = i < h.bounds.count ? Self.number(h.bounds[i]) : "+Inf"
                        out += "\(f.name)_bucket\(Self.labelText(pairs + [("le", le)])) \(c)\n"
                    }
                    out += "\(f.name)_sum\(Self.labelText(pairs)) \(Self.number(h.sum))\n"
                    out += "\(f.name)_count\(Self.labelText(pairs)) \(cumulative.last ?? 0)\n"
                }
            }
        }
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

    static func escapeHelp(_ s: String) -> String {
        s.replacingAll("\\", with: "\\\\").replacingAll("\n", with: "\\n")
    }

    /// Integral values without a fraction ("1", not "1.0"), as Prometheus's own clients write `le`.
    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}

private extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
