/// Prints values back as GraphQL text, the way graphql-js's `print` does, for error
/// messages ("Expected value of type "Int", found "x".") and schema default values.
extension ValueNode: CustomStringConvertible {
    public var description: String {
        switch kind {
        case .variable(let n): return "$" + n
        case .int(let s), .float(let s): return s
        case .string(let s): return GraphQLText.quoted(s)
        case .boolean(let b): return b ? "true" : "false"
        case .null: return "null"
        case .enumValue(let e): return e
        case .list(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .object(let fields):
            return "{" + fields.map { "\($0.name): \($0.value.description)" }.joined(separator: ", ") + "}"
        }
    }
}

enum GraphQLText {
    /// A GraphQL (and JSON-compatible) string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            default:
                if c.value < 0x20 || (c.value >= 0x7F && c.value < 0xA0) {
                    out += "\\u" + String(String(c.value, radix: 16, uppercase: true).leftPadded(to: 4))
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    /// graphql-js's "Did you mean "a", "b", or "c"?" suffix (at most five suggestions).
    static func didYouMean(_ suggestions: [String], prefix: String = "") -> String {
        guard !suggestions.isEmpty else { return "" }
        let quoted = suggestions.prefix(5).map { "\"\($0)\"" }
        let list: String
        switch quoted.count {
        case 1: list = quoted[0]
        case 2: list = quoted[0] + " or " + quoted[1]
        default: list = quoted.dropLast().joined(separator: ", ") + ", or " + quoted[quoted.count - 1]
        }
        return " Did you mean " + (prefix.isEmpty ? "" : prefix + " ") + list + "?"
    }

    /// Options close to `input` by edit distance (case-insensitive match first), best
    /// first: the same selection graphql-js makes for its suggestions.
    static func suggestions(for input: String, among options: [String]) -> [String] {
        let threshold = input.unicodeScalars.count * 4 / 10 + 1
        var scored = [(String, Int)]()
        let lowerInput = input.lowercased()
        for o in options {
            let d = input == o ? 0 : lowerInput == o.lowercased() ? 1 : distance(Array(lowerInput.unicodeScalars), Array(o.lowercased().unicodeScalars), cap: threshold)
            if let d, d <= threshold { scored.append((o, d)) }
        }
        return scored.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : naturalLess($0.0, $1.0) }.map(\.0)
    }

    /// Damerau–Levenshtein (optimal string alignment) distance, nil when above `cap`.
    private static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], cap: Int) -> Int? {
        if a == b { return 0 }
        if abs(a.count - b.count) > cap { return nil }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) <= cap ? max(a.count, b.count) : nil }
        for i in 1...a.count {
            var rowMin = Int.max
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var v = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { v = min(v, rows[i - 2][j - 2] + 1) }
                rows[i][j] = v
                rowMin = min(rowMin, v)
            }
            if rowMin > cap { return nil }
        }
        let d = rows[a.count][b.count]
        return d <= cap ? d : nil
    }

    /// graphql-js's naturalCompare: digit runs compare numerically.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        var i = 0, j = 0
        while i < x.count && j < y.count {
            if Lexer.isDigit(x[i]) && Lexer.isDigit(y[j]) {
                var n1 = 0, n2 = 0
                while i < x.count, Lexer.isDigit(x[i]) { n1 = n1 &* 10 &+ Int(x[i].value - 48); i += 1 }
                while j < y.count, Lexer.isDigit(y[j]) { n2 = n2 &* 10 &+ Int(y[j].value - 48); j += 1 }
                if n1 != n2 { return n1 < n2 }
            } else {
                if x[i] != y[j] { return x[i].value < y[j].value }
                i += 1; j += 1
            }
        }
        return x.count - i < y.count - j
    }
}
