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
