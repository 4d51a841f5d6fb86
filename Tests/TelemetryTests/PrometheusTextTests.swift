import Testing
@testable import Telemetry

@Suite struct PrometheusTextTests {
    /// Parses the exposition line by line as a scraper would: comments name each family's
    /// type before its samples, every sample is `name{labels} value` with a numeric value,
    /// and each histogram's buckets are cumulative and end in `+Inf` equal to `_count`.
    @Test func renderingParsesAsTheTextFormat() throws {
        let r = MetricsRegistry()
        let calls = r.counters("rpc_requests_total", help: "Calls by method\nand outcome", labels: [.firstSeen("method", max: 8), .allowed("outcome", ["ok", "error"])])
        calls.labels("eth_call", "ok").increment(by: 3)
        calls.labels("we\"ird\\name\n", "error").increment()
        r.gauge("peers_connected", help: "Connected peers").set(2)
        let h = r.histogram("rpc_request_duration_seconds", help: "Latency", buckets: [0.005, 0.5, 1])
        for v in [0.001, 0.2, 0.7, 3] { h.observe(v) }
        let text = r.snapshot().prometheusText
        #expect(text.hasSuffix("\n"))

        var types = [String: String]()
        var samples = [(name: String, labels: [String: String], value: Double)]()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") { #expect(!line.dropFirst(7).isEmpty); continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                try #require(parts.count == 4, "\(line)")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            let sample = try #require(Self.parseSample(String(line)), "not a sample line: \(line)")
            let family = types.keys.first { sample.name == $0 || sample.name == $0 + "_bucket" || sample.name == $0 + "_sum" || sample.name == $0 + "_count" }
            #expect(family != nil, "\(sample.name) appears before its # TYPE")
            samples.append(sample)
        }
        #expect(types == ["rpc_requests_total": "counter", "peers_connected": "gauge", "rpc_request_duration_seconds": "histogram",
                          "telemetry_label_overflow_total": "counter"])
        #expect(samples.contains { $0.name == "rpc_requests_total" && $0.labels == ["method": "eth_call", "outcome": "ok"] && $0.value == 3 })
        #expect(samples.contains { $0.labels["method"] == "we\"ird\\name\n" && $0.value == 1 }, "escaped label values read back as written")
        #expect(samples.contains { $0.name == "peers_connected" && $0.labels.isEmpty && $0.value == 2 })
        let buckets = samples.filter { $0.name == "rpc_request_duration_seconds_bucket" }
        #expect(buckets.map { $0.labels["le"]! } == ["0.005", "0.5", "1", "+Inf"])
        #expect(buckets.map(\.value) == [1, 2, 3, 4], "cumulative")
        #expect(samples.first { $0.name == "rpc_request_duration_seconds_count" }?.value == 4)
        #expect(abs((samples.first { $0.name == "rpc_request_duration_seconds_sum" }?.value ?? 0) - 3.901) < 1e-9)
    }

    /// OpenMetrics: a counter's family drops `_total` (its samples keep it), gauges and
    /// histograms are named as in the text format, real values print as numbers, quotes in
    /// help are escaped, and the exposition ends in `# EOF`.
    @Test func openMetricsRendering() {
        let r = MetricsRegistry()
        r.counters("rpc_requests_total", help: "Calls \"quoted\"", labels: [.allowed("outcome", ["ok"])]).labels("ok").increment(by: 2)
        r.gauge("peers_connected", help: "Connected peers").set(3)
        r.collect("process_cpu_seconds_total", help: "CPU", kind: .counter, labels: []) { [MetricSeries(value: .realCounter(1.25))] }
        r.collect("lag_seconds", help: "Lag", kind: .gauge, labels: []) { [MetricSeries(value: .realGauge(0.5))] }
        r.histogram("took_seconds", help: "Took", buckets: [1]).observe(0.5)
        let om = r.snapshot().openMetricsText
        let lines = om.split(separator: "\n").map(String.init)
        #expect(lines.last == "# EOF")
        #expect(lines.contains("# TYPE rpc_requests counter") && lines.contains("rpc_requests_total{outcome=\"ok\"} 2"))
        #expect(lines.contains("# HELP rpc_requests Calls \\\"quoted\\\""), "quotes in help are escaped in OpenMetrics")
        #expect(lines.contains("# TYPE process_cpu_seconds counter") && lines.contains("process_cpu_seconds_total 1.25"))
        #expect(lines.contains("# TYPE peers_connected gauge") && lines.contains("peers_connected 3"))
        #expect(lines.contains("lag_seconds 0.5"))
        #expect(lines.contains("took_seconds_bucket{le=\"1\"} 1") && lines.contains("took_seconds_count 1"))
        let text = r.snapshot().prometheusText
        #expect(text.contains("# TYPE rpc_requests_total counter\n") && !text.contains("# EOF"))
        #expect(text.contains("# HELP rpc_requests_total Calls \"quoted\"\n"), "the text format leaves quotes in help alone")
    }

    @Test func acceptHeaderChoosesTheFormat() {
        typealias E = MetricsSnapshot.Exposition
        #expect(E(accept: nil) == .prometheus)
        #expect(E(accept: "text/plain;version=0.0.4") == .prometheus)
        #expect(E(accept: "application/openmetrics-text; version=1.0.0; charset=utf-8") == .openMetrics)
        #expect(E(accept: "text/plain;q=0.5, Application/OpenMetrics-Text;version=0.0.1;q=0.75") == .openMetrics)
        #expect(E(accept: "application/openmetrics-text;q=0") == .prometheus)
        #expect(E(accept: "application/openmetrics-textual") == .prometheus)
    }

    /// /proc/self/stat as proc(5) lays it out, with a command name holding spaces and a ')'.
    @Test func procStatParsing() throws {
        var fields = [String](repeating: "0", count: 52)
        fields[0] = "4242"; fields[1] = "(odd ) name)"; fields[2] = "S"
        fields[13] = "250"; fields[14] = "150"      // utime, stime (ticks)
        fields[19] = "17"                           // num_threads
        fields[21] = "1000"                         // starttime (ticks after boot)
        fields[22] = "123456789"                    // vsize (bytes)
        fields[23] = "2000"                         // rss (pages)
        let p = try #require(ProcSelf.parse(stat: fields.joined(separator: " ") + "\n", ticksPerSecond: 100, pageSize: 4096))
        #expect(p.cpuSeconds == 4 && p.threads == 17 && p.virtualBytes == 123_456_789 && p.residentBytes == 2000 * 4096)
        #expect(p.startTimeSeconds == 10)
        #expect(ProcSelf.parse(stat: "4242 (x) S 1 2", ticksPerSecond: 100, pageSize: 4096) == nil, "a short line is refused")
        #expect(ProcSelf.parseBootTime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
        // This process, read live: plausible values.
        let live = try #require(ProcSelf.read())
        #expect(live.threads >= 1 && live.residentBytes > 0 && (live.openFDs ?? 0) > 0)
        #expect((live.startTimeSeconds ?? 0) > 1_600_000_000)
    }

    /// `name`, optional `{k="v",…}` with \\ \" \n escapes, a space, a number (or ±Inf/NaN).
    static func parseSample(_ line: String) -> (name: String, labels: [String: String], value: Double)? {
        var chars = Array(line)
        var i = 0
        var name = ""
        while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == ":" { name.append(chars[i]); i += 1 }
        guard !name.isEmpty, i < chars.count else { return nil }
        var labels = [String: String]()
        if chars[i] == "{" {
            i += 1
            while i < chars.count, chars[i] != "}" {
                var key = ""
                while i < chars.count, chars[i] != "=" { key.append(chars[i]); i += 1 }
                guard i + 1 < chars.count, chars[i + 1] == "\"" else { return nil }
                i += 2
                var value = ""
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count {
                        i += 1
                        value.append(chars[i] == "n" ? "\n" : chars[i])
                    } else {
                        value.append(chars[i])
                    }
                    i += 1
                }
                guard i < chars.count else { return nil }
                i += 1
                labels[key] = value
                if i < chars.count, chars[i] == "," { i += 1 }
            }
            guard i < chars.count else { return nil }
            i += 1
        }
        guard i < chars.count, chars[i] == " " else { return nil }
        chars = Array(chars[(i + 1)...])
        let text = String(chars)
        let value: Double? = text == "+Inf" ? .infinity : text == "-Inf" ? -.infinity : Double(text)
        guard let value else { return nil }
        return (name, labels, value)
    }
}
