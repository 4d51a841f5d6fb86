import Foundation

/// A JSON string literal for arbitrary text: quotes, backslashes and control characters escaped.
public func jsonQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

/// `jsonQuote` of at most the first `limit` characters of `s`, then `…(N bytes)` when it was
/// longer: the one way error messages and logs echo input from the wire, so a hostile client
/// cannot make us copy megabytes of its own text back (or into the log) — e.g.
/// `boundedQuote(String(repeating: "a", count: 100), limit: 4)` is `"aaaa"…(100 bytes)`.
public func boundedQuote(_ s: some StringProtocol, limit: Int = 64) -> String {
    precondition(limit >= 0, "boundedQuote limit must not be negative")
    // Count characters only up to the limit: the input may be megabytes long.
    var end = s.startIndex
    var taken = 0
    while taken < limit && end < s.endIndex { s.formIndex(after: &end); taken += 1 }
    if end == s.endIndex { return jsonQuote(String(s)) }
    return jsonQuote(String(s[..<end])) + "…(\(s.utf8.count) bytes)"
}
