import ByteCodec

/// A JSON value (RFC 8259). Objects keep their key order so answers can be re-emitted
/// in the order a client or upstream used; numbers keep their source text so no
/// precision is lost on the way through.
public indirect enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var isNull: Bool { self == .null }
}

/// An ordered JSON object.
///
/// Kept as its (key, value) pairs in order. RPC objects are small (a block has about 20
/// keys), and a linear search of so few keys is cheaper than hashing one, so only objects
/// above `indexedFrom` keys also get a key → position index. Parsing megabytes of blocks
/// spent a fifth of its time building the dictionaries this replaced.
public struct JSONObject: Sendable, ExpressibleByDictionaryLiteral {
    private var entries: [(String, JSONValue)] = []
    private var index: [String: Int]?
    static let indexedFrom = 24

    public init() {}
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (k, v) in elements { self[k] = v }
    }
    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { entries[$0].1 } }
        set {
            if let p = position(of: key) {
                if let v = newValue {
                    entries[p].1 = v
                } else {
                    entries.remove(at: p)
                    rebuildIndex()
                }
            } else if let v = newValue {
                entries.append((key, v))
                if index != nil { index![key] = entries.count - 1 } else if entries.count >= Self.indexedFrom { rebuildIndex() }
            }
            assert(index == nil || index!.count == entries.count, "the index covers every key")
        }
    }
    public var keys: [String] { entries.map(\.0) }
    public var count: Int { entries.count }
    /// The pairs in order (no copy is made).
    public var pairs: [(String, JSONValue)] { entries }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return entries.firstIndex { $0.0 == key }
    }

    private mutating func rebuildIndex() {
        guard entries.count >= Self.indexedFrom else { index = nil; return }
        var ix = [String: Int](minimumCapacity: entries.count)
        for (i, e) in entries.enumerated() { ix[e.0] = i }
        index = ix
    }
}

extension JSONObject: Hashable {
    /// Equal when the same keys appear in the same order with equal values.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.entries.count == b.entries.count else { return false }
        for (x, y) in zip(a.entries, b.entries) where x.0 != y.0 || x.1 != y.1 { return false }
        return true
    }

    public func hash(into h: inout Hasher) {
        h.combine(entries.count)
        for (k, v) in entries { h.combine(k); h.combine(v) }
    }
}

public struct JSONError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

public enum JSON {
    /// Most containers (objects and arrays alike) open at once. Parsing, dropping, comparing,
    /// hashing and serializing a value all recurse once per level, so this bounds the stack a
    /// hostile document can use; 128 (serde_json's default) is far deeper than any real RPC or
    /// GraphQL payload and sits well inside a worker thread's stack (`WorkerPool.threadStackSize`).
    public static let maxDepth = 128

    public static func parse(_ text: String) throws(JSONError) -> JSONValue { try parse(Array(text.utf8)) }

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        var p = Parser(b: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.fail("unexpected data after the value") }
        return v
    }

    /// Compact serialization, keys in object order.
    public static func serialize(_ v: JSONValue) -> String {
        String(decoding: serializedBytes(v), as: UTF8.self)
    }

    /// The same as UTF-8 bytes.
    public static func serializedBytes(_ v: JSONValue) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(256)
        write(v, to: &out)
        return out
    }

    public static func write(_ v: JSONValue, to out: inout [UInt8]) {
        switch v {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(e, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, (k, e)) in o.pairs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(k, to: &out)
                out.append(UInt8(ascii: ":"))
                write(e, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    public static func writeString(_ s: String, to out: inout [UInt8]) {
        // Most strings (hex, keys) need no escaping: scan their contiguous UTF-8 once and
        // copy it in one go (the generic `contains` over a UTF8View showed in profiles).
        var str = s
        let plain: Bool = str.withUTF8 { buf in
            for c in buf where c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: buf)
            out.append(UInt8(ascii: "\""))
            return true
        }
        if plain { return }
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case 0x0a: out.append(contentsOf: "\\n".utf8)
            case 0x0d: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(Hex.digits[Int(c >> 4)]); out.append(Hex.digits[Int(c & 0xf)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    struct Parser {
        let b: [UInt8]
        var i = 0

        func fail(_ m: String) -> JSONError { JSONError(message: m, offset: i) }

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
        }

        /// `depth` counts the containers already open around this value.
        mutating func value(depth: Int) throws(JSONError) -> JSONValue {
            guard i < b.count else { throw fail("unexpected end of input") }
            switch b[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard depth < JSON.maxDepth else { throw fail("nesting deeper than \(JSON.maxDepth) levels") }
                return b[i] == UInt8(ascii: "{") ? try object(depth: depth) : try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("unexpected character '\(Character(Unicode.Scalar(b[i])))'")
            }
        }

        mutating func literal(_ word: String) throws(JSONError) {
            let w = Array(word.utf8)
            guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { throw fail("invalid literal, expected \(word)") }
            i += w.count
        }

        mutating func object(depth: Int) throws(JSONError) -> JSONValue {
            i += 1
            var o = JSONObject()
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let k = try string()
                guard o[k] == nil else { throw fail("duplicate key \(boundedQuote(k))") }
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
                i += 1
                skipSpace()
                o[k] = try value(depth: depth + 1)
                skipSpace()
                guard i < b.count else { throw fail("unterminated object") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                throw fail("expected ',' or '}' in object")
            }
        }

        mutating func array(depth: Int) throws(JSONError) -> JSONValue {
            i += 1
            var a = [JSONValue]()
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                skipSpace()
                a.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw fail("unterminated array") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                throw fail("expected ',' or ']' in array")
            }
        }

        mutating func number() throws(JSONError) -> String {
            let start = i
            if b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
            if b[i] == UInt8(ascii: "0") { i += 1 } else { while i < b.count, isDigit(b[i]) { i += 1 } }
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                guard i < b.count, isDigit(b[i]) else { throw fail("invalid number: digit expected after '.'") }
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard i < b.count, isDigit(b[i]) else { throw fail("invalid number: digit expected in exponent") }
                while i < b.count, isDigit(b[i]) { i += 1 }
            }
            return String(decoding: b[start..<i], as: UTF8.self)
        }

        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

        mutating func hex4() throws(JSONError) -> UInt32 {
            guard i + 4 <= b.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let n = Hex.nibble(b[i]) else { throw fail("invalid \\u escape") }
                v = v << 4 | UInt32(n); i += 1
            }
            return v
        }

        mutating func string() throws(JSONError) -> String {
            i += 1
            let start = i
            // Fast path: no escapes.
            var high: UInt8 = 0
            while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { high |= b[i]; i += 1 }
            guard i < b.count else { throw fail("unterminated string") }
            if b[i] == UInt8(ascii: "\"") {
                let end = i
                i += 1
                // ASCII (hex, keys: nearly every string in RPC) is valid UTF-8 as it stands, so
                // it skips the validating initializer, which showed in block-parsing profiles.
                if high < 0x80 {
                    return b.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<end]), as: UTF8.self) }
                }
                guard let str = String(validating: b[start..<end], as: UTF8.self) else { throw fail("string is not valid UTF-8") }
                return str
            }
            var out = Array(b[start..<i])
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < b.count else { throw fail("unterminated escape") }
                let e = b[i]; i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "\\"): out.append(e)
                case UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if (0xD800..<0xDC00).contains(cp) {
                        guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw fail("unpaired surrogate") }
                        i += 2
                        let lo = try hex4()
                        guard (0xDC00..<0xE000).contains(lo) else { throw fail("invalid low surrogate") }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(cp) {
                        throw fail("unpaired surrogate")
                    }
                    guard let scalar = Unicode.Scalar(cp) else { throw fail("invalid code point") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                }
            }
            guard let str = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
            return str
        }
    }
}
