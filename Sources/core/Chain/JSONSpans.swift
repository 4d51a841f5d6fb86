/// Byte ranges of the members of a JSON object or the elements of a JSON array, found by
/// skipping over values without building them. The apply path uses it to store each
/// transaction, receipt and log as the exact bytes it arrived in (no parse and
/// re-serialize per object); only the few small fields an index needs are parsed.
///
/// The input must be valid JSON (it was produced by `JSON.serialize` or has been parsed
/// before); on malformed input the scanner throws rather than guess.
public enum JSONSpans {
    /// (key, value range) for each member of the object that spans `range`.
    public static func members(_ b: [UInt8], _ range: Range<Int>) throws(JSONError) -> [(key: String, value: Range<Int>)] {
        var i = skipSpace(b, range.lowerBound, range.upperBound)
        guard i < range.upperBound, b[i] == UInt8(ascii: "{") else { throw JSONError(message: "expected an object", offset: i) }
        i = skipSpace(b, i + 1, range.upperBound)
        var out = [(key: String, value: Range<Int>)]()
        if i < range.upperBound && b[i] == UInt8(ascii: "}") { return out }
        while true {
            guard i < range.upperBound, b[i] == UInt8(ascii: "\"") else { throw JSONError(message: "expected a member name", offset: i) }
            let keyEnd = try skipValue(b, i, range.upperBound)
            guard case .string(let key) = try JSON.parse(Array(b[i..<keyEnd])) else { throw JSONError(message: "bad member name", offset: i) }
            i = skipSpace(b, keyEnd, range.upperBound)
            guard i < range.upperBound, b[i] == UInt8(ascii: ":") else { throw JSONError(message: "expected ':'", offset: i) }
            i = skipSpace(b, i + 1, range.upperBound)
            let end = try skipValue(b, i, range.upperBound)
            out.append((key, i..<end))
            i = skipSpace(b, end, range.upperBound)
            guard i < range.upperBound else { throw JSONError(message: "unterminated object", offset: i) }
            if b[i] == UInt8(ascii: "}") { return out }
            guard b[i] == UInt8(ascii: ",") else { throw JSONError(message: "expected ',' or '}'", offset: i) }
            i = skipSpace(b, i + 1, range.upperBound)
        }
    }

    /// The value range of one member, or nil when the object has no such member.
    public static func member(_ b: [UInt8], _ range: Range<Int>, _ name: String) throws(JSONError) -> Range<Int>? {
        try members(b, range).first { $0.key == name }?.value
    }

    /// The range of each element of the array that spans `range`.
    public static func elements(_ b: [UInt8], _ range: Range<Int>) throws(JSONError) -> [Range<Int>] {
        var i = skipSpace(b, range.lowerBound, range.upperBound)
        guard i < range.upperBound, b[i] == UInt8(ascii: "[") else { throw JSONError(message: "expected an array", offset: i) }
        i = skipSpace(b, i + 1, range.upperBound)
        var out = [Range<Int>]()
        if i < range.upperBound && b[i] == UInt8(ascii: "]") { return out }
        while true {
            let end = try skipValue(b, i, range.upperBound)
            out.append(i..<end)
            i = skipSpace(b, end, range.upperBound)
            guard i < range.upperBound else { throw JSONError(message: "unterminated array", offset: i) }
            if b[i] == UInt8(ascii: "]") { return out }
            guard b[i] == UInt8(ascii: ",") else { throw JSONError(message: "expected ',' or ']'", offset: i) }
            i = skipSpace(b, i + 1, range.upperBound)
        }
    }

    static func skipSpace(_ b: [UInt8], _ from: Int, _ end: Int) -> Int {
        var i = from
        while i < end, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
        return i
    }

    /// The index just past the value starting at `i`: strings honour escapes, containers
    /// nest (depth-capped like the parser), scalars run to the next delimiter.
    static func skipValue(_ b: [UInt8], _ start: Int, _ end: Int) throws(JSONError) -> Int {
        var i = start
        var depth = 0
        var inString = false
        while i < end {
            let c = b[i]
            if inString {
                if c == UInt8(ascii: "\\") { i += 2; continue }
                if c == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return i + 1 }
                }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                // Iterative, so the cap is not about the stack: it keeps agreement with the parser.
                guard depth <= JSON.maxDepth else { throw JSONError(message: "nesting deeper than \(JSON.maxDepth) levels", offset: i) }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { return i }   // the end of the enclosing container
                depth -= 1
                if depth == 0 { return i + 1 }
            case UInt8(ascii: ","), 0x20, 0x0a, 0x0d, 0x09:
                if depth == 0 { return i }
            default: break
            }
            i += 1
        }
        guard depth == 0, !inString, i > start else { throw JSONError(message: "unterminated value", offset: start) }
        return i
    }
}
