import Foundation

/// How hosted providers say "slow down", "that batch is too big" and "I don't serve that
/// method". None of it is standardised: these are the status codes and message shapes
/// seen from the common providers and node clients, matched case-insensitively.
enum UpstreamQuirks {
    /// Longest wait a Retry-After may impose; a longer one is cut to this.
    static let maxRetryAfterSeconds = 30.0

    /// A JSON-RPC error that means the caller is over its request rate or quota.
    static func isRateLimit(code: Int, message: String) -> Bool {
        let m = message.lowercased()
        if code == 429 { return true }
        if ["rate limit", "too many requests", "requests per second", "request rate", "exceeded the quota", "compute units"].contains(where: m.contains) {
            return !m.contains("batch")
        }
        // -32005 is "limit exceeded": a rate limit, except when it is about eth_getLogs' result size.
        return code == -32005 && !m.contains("result") && !m.contains("block range")
    }

    /// A JSON-RPC error answering a batch that means the batch has too many calls; the limit
    /// when the message states one.
    static func batchTooLarge(code: Int, message: String) -> (Bool, limit: Int?) {
        let m = message.lowercased()
        let says = (m.contains("batch") && ["too large", "too big", "limit", "maximum", "exceed", "too many", "not allowed", "more than"].contains(where: m.contains))
            || m.contains("exceeds the limit of")
        return (says, says ? lastInteger(in: m) : nil)
    }

    /// A JSON-RPC error that means the upstream does not serve the method at all.
    static func isMethodMissing(code: Int, message: String) -> Bool {
        if code == -32601 { return true }
        let m = message.lowercased()
        if m.contains("method not found") || m.contains("unsupported method") || m.contains("not supported") { return true }
        return m.contains("method") && (m.contains("does not exist") || m.contains("is not available") || m.contains("not whitelisted"))
    }

    static func lastInteger(in s: String) -> Int? {
        var last: Int?, digits = ""
        for c in s + " " {
            if c.isASCII, c.isNumber { digits.append(c); continue }
            if !digits.isEmpty { last = Int(digits.prefix(9)); digits = "" }
        }
        return last
    }

    /// A Retry-After value in seconds from now: delta-seconds or an HTTP-date (IMF-fixdate,
    /// `Sun, 06 Nov 1994 08:49:37 GMT`); nil for anything else. A date in the past is 0.
    static func retryAfterSeconds(_ value: String, now: Date = Date()) -> Double? {
        let v = value.trimmingCharacters(in: .whitespaces)
        if let s = UInt64(v.prefix(12)), v.allSatisfy({ $0.isASCII && $0.isNumber }) { return Double(s) }
        guard let date = httpDate(v) else { return nil }
        return max(0, date - now.timeIntervalSince1970)
    }

    /// IMF-fixdate as seconds since 1970, parsed by hand (no locale-dependent formatters).
    static func httpDate(_ s: String) -> Double? {
        let parts = s.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
              let day = Int(parts[1]), (1...31).contains(day), let year = Int(parts[3]), (1970...9999).contains(year) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let mi = months.firstIndex(of: String(parts[2])) else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3, (0...23).contains(hms[0]), (0...59).contains(hms[1]), (0...60).contains(hms[2]) else { return nil }
        // Days from civil (Howard Hinnant's algorithm), March-based years.
        let m = mi + 1, y = m <= 2 ? year - 1 : year
        let era = y / 400, yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Double(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
    }
}
