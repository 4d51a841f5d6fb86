/// The kinds of lexical token of the GraphQL grammar (spec §2.1).
enum TokenKind: Equatable, Sendable {
    case startOfFile, endOfFile
    case bang, dollar, amp, parenL, parenR, spread, colon, equals, at, bracketL, bracketR, braceL, pipe, braceR
    case name, int, float, string, blockString

    /// How error messages name the kind (the same words graphql-js uses, so messages match).
    var description: String {
        switch self {
        case .startOfFile: return "<SOF>"
        case .endOfFile: return "<EOF>"
        case .bang: return "\"!\""
        case .dollar: return "\"$\""
        case .amp: return "\"&\""
        case .parenL: return "\"(\""
        case .parenR: return "\")\""
        case .spread: return "\"...\""
        case .colon: return "\":\""
        case .equals: return "\"=\""
        case .at: return "\"@\""
        case .bracketL: return "\"[\""
        case .bracketR: return "\"]\""
        case .braceL: return "\"{\""
        case .pipe: return "\"|\""
        case .braceR: return "\"}\""
        case .name: return "Name"
        case .int: return "Int"
        case .float: return "Float"
        case .string: return "String"
        case .blockString: return "BlockString"
        }
    }
}

struct Token: Sendable {
    var kind: TokenKind
    /// Name text, number text, or the cooked string value; nil for punctuation.
    var value: String?
    var location: SourceLocation

    var description: String {
        if let value, kind != .endOfFile { return "\(kind.description) \(quoted(value))" }
        return kind.description
    }
}

/// Turns query text into tokens, skipping ignored tokens (whitespace, commas, comments,
/// the byte order mark). Works on Unicode scalars so columns count characters, and
/// reports errors in graphql-js's words with the location of the offending character.
struct Lexer {
    private let chars: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var lineStart = 0

    init(_ text: String) { chars = Array(text.unicodeScalars) }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let i = pos + offset
        return i < chars.count ? chars[i] : nil
    }

    private func location(at i: Int) -> SourceLocation { SourceLocation(line: line, column: i - lineStart + 1) }

    private func error(_ message: String, at i: Int) -> GraphQLError {
        GraphQLError("Syntax Error: " + message, locations: [location(at: i)])
    }

    /// graphql-js's rendering of a character in messages: printable ASCII quoted, others as U+XXXX.
    private func describe(_ i: Int) -> String {
        guard i < chars.count else { return "<EOF>" }
        let c = chars[i]
        if c.value >= 0x20 && c.value <= 0x7E { return c == "\"" ? "'\"'" : "\"\(Character(c))\"" }
        return "U+" + String(String(c.value, radix: 16, uppercase: true).leftPadded(to: 4))
    }

    mutating func next() throws(GraphQLError) -> Token {
        skipIgnored()
        let start = pos
        guard let c = peek() else { return Token(kind: .endOfFile, value: nil, location: location(at: start)) }
        func punct(_ k: TokenKind, _ width: Int = 1) -> Token {
            pos += width
            return Token(kind: k, value: nil, location: location(at: start))
        }
        switch c {
        case "!": return punct(.bang)
        case "$": return punct(.dollar)
        case "&": return punct(.amp)
        case "(": return punct(.parenL)
        case ")": return punct(.parenR)
        case ":": return punct(.colon)
        case "=": return punct(.equals)
        case "@": return punct(.at)
        case "[": return punct(.bracketL)
        case "]": return punct(.bracketR)
        case "{": return punct(.braceL)
        case "|": return punct(.pipe)
        case "}": return punct(.braceR)
        case ".":
            if peek(1) == ".", peek(2) == "." { return punct(.spread, 3) }
            throw error("Unexpected character: \(describe(pos)).", at: pos)
        case "\"":
            if peek(1) == "\"", peek(2) == "\"" { return try blockString() }
            return try string()
        case "'":
            throw error("Unexpected single quote character ('), did you mean to use a double quote (\")?", at: pos)
        default:
            if Self.isNameStart(c) { return name() }
            if c == "-" || Self.isDigit(c) { return try number() }
            throw error("Unexpected character: \(describe(pos)).", at: pos)
        }
    }

    private mutating func skipIgnored() {
        while let c = peek() {
            switch c {
            case "\u{FEFF}", " ", "\t", ",": pos += 1
            case "\n": pos += 1; newLine()
            case "\r":
                pos += peek(1) == "\n" ? 2 : 1
                newLine()
            case "#":
                while let d = peek(), d != "\n", d != "\r" { pos += 1 }
            default: return
            }
        }
    }

    private mutating func newLine() { line += 1; lineStart = pos }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool { c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
    static func isNameContinue(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || isDigit(c) }

    private mutating func name() -> Token {
        let start = pos
        while let c = peek(), Self.isNameContinue(c) { pos += 1 }
        return Token(kind: .name, value: text(start, pos), location: location(at: start))
    }

    private func text(_ from: Int, _ to: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: chars[from..<to])
        return String(s)
    }

    private mutating func number() throws(GraphQLError) -> Token {
        let start = pos
        var isFloat = false
        if peek() == "-" { pos += 1 }
        if peek() == "0" {
            pos += 1
            if let c = peek(), Self.isDigit(c) { throw error("Invalid number, unexpected digit after 0: \(describe(pos)).", at: pos) }
        } else {
            try digits()
        }
        if peek() == "." {
            isFloat = true
            pos += 1
            try digits()
        }
        if peek() == "e" || peek() == "E" {
            isFloat = true
            pos += 1
            if peek() == "+" || peek() == "-" { pos += 1 }
            try digits()
        }
        // A number may not run straight into a name or another dot (e.g. `1.2.3`, `0x1`).
        if let c = peek(), c == "." || Self.isNameStart(c) {
            throw error("Invalid number, expected digit but got: \(describe(pos)).", at: pos)
        }
        return Token(kind: isFloat ? .float : .int, value: text(start, pos), location: location(at: start))
    }

    private mutating func digits() throws(GraphQLError) {
        guard let c = peek(), Self.isDigit(c) else { throw error("Invalid number, expected digit but got: \(describe(pos)).", at: pos) }
        while let d = peek(), Self.isDigit(d) { pos += 1 }
    }

    private mutating func string() throws(GraphQLError) -> Token {
        let start = pos
        pos += 1
        var value = String.UnicodeScalarView()
        while let c = peek() {
            switch c {
            case "\"":
                pos += 1
                return Token(kind: .string, value: String(value), location: location(at: start))
            case "\n", "\r":
                throw error("Unterminated string.", at: pos)
            case "\\":
                value.append(try escape())
            default:
                guard Self.isSourceCharacter(c) else { throw error("Invalid character within String: \(describe(pos)).", at: pos) }
                value.append(c)
                pos += 1
            }
        }
        throw error("Unterminated string.", at: pos)
    }

    /// Control characters other than tab and line terminators may not appear in strings.
    static func isSourceCharacter(_ c: Unicode.Scalar) -> Bool { c.value >= 0x20 || c == "\t" }

    private mutating func escape() throws(GraphQLError) -> Unicode.Scalar {
        let start = pos
        guard let e = peek(1) else { throw error("Unterminated string.", at: pos + 1) }
        pos += 2
        switch e {
        case "\"": return "\""
        case "\\": return "\\"
        case "/": return "/"
        case "b": return "\u{8}"
        case "f": return "\u{C}"
        case "n": return "\n"
        case "r": return "\r"
        case "t": return "\t"
        case "u": return try unicodeEscape(start)
        default:
            throw error("Invalid character escape sequence: \"\(text(start, min(pos, chars.count)))\".", at: start)
        }
    }

    /// `\uXXXX` (with surrogate pairs joined) or the variable-width `\u{…}` form.
    private mutating func unicodeEscape(_ start: Int) throws(GraphQLError) -> Unicode.Scalar {
        func invalid(_ end: Int) -> GraphQLError {
            error("Invalid Unicode escape sequence: \"\(text(start, min(end, chars.count)))\".", at: start)
        }
        if peek() == "{" {
            var v: UInt32 = 0
            var i = pos + 1
            var count = 0
            while i < chars.count, chars[i] != "}" {
                guard let h = Self.hexValue(chars[i]), count < 8 else { throw invalid(i + 1) }
                v = v << 4 | h
                count += 1
                i += 1
            }
            guard i < chars.count, count > 0, let scalar = Unicode.Scalar(v) else { throw invalid(i + 1) }
            pos = i + 1
            return scalar
        }
        guard let lead = fourHex(at: pos) else { throw invalid(pos + 4) }
        pos += 4
        if (0xD800...0xDBFF).contains(lead) {
            // A leading surrogate must be followed by an escaped trailing one.
            if peek() == "\\", peek(1) == "u", let trail = fourHex(at: pos + 2), (0xDC00...0xDFFF).contains(trail),
               let s = Unicode.Scalar(0x10000 + ((lead - 0xD800) << 10) + (trail - 0xDC00)) {
                pos += 6
                return s
            }
            throw invalid(pos)
        }
        guard let s = Unicode.Scalar(lead) else { throw invalid(pos) }
        return s
    }

    private func fourHex(at i: Int) -> UInt32? {
        guard i + 4 <= chars.count else { return nil }
        var v: UInt32 = 0
        for k in i..<(i + 4) {
            guard let h = Self.hexValue(chars[k]) else { return nil }
            v = v << 4 | h
        }
        return v
    }

    static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 0x30
        case "a"..."f": return c.value - 0x61 + 10
        case "A"..."F": return c.value - 0x41 + 10
        default: return nil
        }
    }

    private mutating func blockString() throws(GraphQLError) -> Token {
        let start = pos
        let startLocation = location(at: start)
        pos += 3
        var raw = String.UnicodeScalarView()
        while let c = peek() {
            if c == "\"", peek(1) == "\"", peek(2) == "\"" {
                pos += 3
                return Token(kind: .blockString, value: BlockString.value(String(raw)), location: startLocation)
            }
            if c == "\\", peek(1) == "\"", peek(2) == "\"", peek(3) == "\"" {
                raw.append(contentsOf: "\"\"\"".unicodeScalars)
                pos += 4
                continue
            }
            if c == "\n" || c == "\r" {
                raw.append("\n")
                pos += (c == "\r" && peek(1) == "\n") ? 2 : 1
                newLine()
                continue
            }
            guard Self.isSourceCharacter(c) else { throw error("Invalid character within String: \(describe(pos)).", at: pos) }
            raw.append(c)
            pos += 1
        }
        throw error("Unterminated string.", at: pos)
    }
}

/// Block string dedenting (spec: BlockStringValue): strip the common indentation of all
/// lines but the first, then leading and trailing blank lines.
enum BlockString {
    static func value(_ raw: String) -> String {
        let lines = raw.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var common: Int? = nil
        for l in lines.dropFirst() {
            let indent = l.prefix { $0 == " " || $0 == "\t" }.count
            if indent < l.count, common.map({ indent < $0 }) ?? true { common = indent }
        }
        var out = lines
        if let common {
            for i in out.indices.dropFirst() { out[i] = String(out[i].dropFirst(min(common, out[i].count))) }
        }
        func blank(_ s: String) -> Bool { s.allSatisfy { $0 == " " || $0 == "\t" } }
        while let f = out.first, blank(f) { out.removeFirst() }
        while let l = out.last, blank(l) { out.removeLast() }
        return out.joined(separator: "\n")
    }

    /// Prints a description as a block string (used by the schema printer).
    static func print(_ s: String) -> String {
        let escaped = s.replacingOccurrences(of: "\"\"\"", with: "\\\"\"\"")
        if !s.contains("\n") && !s.hasPrefix(" ") && !s.hasSuffix("\"") && !s.hasSuffix("\\") {
            return "\"\"\"" + escaped + "\"\"\""
        }
        return "\"\"\"\n" + escaped + "\n\"\"\""
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }

    /// Plain substring replacement (Foundation-free so the engine needs only the standard library).
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[rest.startIndex..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
