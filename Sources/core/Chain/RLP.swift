/// Recursive Length Prefix, Ethereum's serialization (Yellow Paper, appendix B).
public indirect enum RLPItem: Hashable, Sendable {
    case bytes([UInt8])
    case list([RLPItem])

    public static func uint(_ v: UInt64) -> RLPItem {
        var b = [UInt8]()
        var x = v
        while x > 0 { b.insert(UInt8(truncatingIfNeeded: x), at: 0); x >>= 8 }
        return .bytes(b)
    }
    public static func uint(_ v: U256) -> RLPItem { .bytes(v.minimalBytes) }
    public static func string(_ s: String) -> RLPItem { .bytes(Array(s.utf8)) }

    public var bytesValue: [UInt8]? { if case .bytes(let b) = self { return b }; return nil }
    public var listValue: [RLPItem]? { if case .list(let l) = self { return l }; return nil }
}

public enum RLPError: Error, Equatable, CustomStringConvertible {
    case empty
    case truncated(offset: Int, needed: Int, available: Int)
    case trailingBytes(offset: Int, count: Int)
    case nonCanonicalSingleByte(offset: Int)
    case nonCanonicalLength(offset: Int)
    case lengthHasLeadingZero(offset: Int)
    case lengthTooLarge(offset: Int)
    case tooDeep(offset: Int, limit: Int)
    case expected(String)
    case nonCanonicalInteger

    public var description: String {
        switch self {
        case .empty: return "RLP input is empty"
        case .truncated(let o, let n, let a): return "RLP item at offset \(o) needs \(n) bytes, only \(a) remain"
        case .trailingBytes(let o, let c): return "RLP has \(c) trailing bytes after the item ending at offset \(o)"
        case .nonCanonicalSingleByte(let o): return "RLP at offset \(o) wraps a single byte below 0x80 in a string header"
        case .nonCanonicalLength(let o): return "RLP at offset \(o) uses a long-form length for a payload under 56 bytes"
        case .lengthHasLeadingZero(let o): return "RLP length at offset \(o) has a leading zero byte"
        case .lengthTooLarge(let o): return "RLP length at offset \(o) is too large"
        case .tooDeep(let o, let limit): return "RLP list at offset \(o) nests deeper than \(limit) levels"
        case .expected(let what): return "RLP: expected \(what)"
        case .nonCanonicalInteger: return "RLP integer has a leading zero byte"
        }
    }
}

public enum RLP {
    /// Most lists open at once when decoding. Decoding (and dropping, comparing, re-encoding)
    /// recurses once per level; Ethereum's structures nest a handful of levels, so this only
    /// stops hostile input from exhausting a worker thread's stack.
    public static let maxDepth = 128

    // MARK: encoding

    public static func encode(_ item: RLPItem) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(64)
        append(item, to: &out)
        return out
    }

    public static func encode(bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        appendBytes(bytes, to: &out)
        return out
    }

    public static func append(_ item: RLPItem, to out: inout [UInt8]) {
        switch item {
        case .bytes(let b): appendBytes(b, to: &out)
        case .list(let items):
            var body = [UInt8]()
            for i in items { append(i, to: &body) }
            appendHeader(count: body.count, offset: 0xc0, to: &out)
            out.append(contentsOf: body)
        }
    }

    public static func appendBytes<C: Collection>(_ b: C, to out: inout [UInt8]) where C.Element == UInt8 {
        if b.count == 1, let first = b.first, first < 0x80 { out.append(first); return }
        appendHeader(count: b.count, offset: 0x80, to: &out)
        out.append(contentsOf: b)
    }

    /// Wraps already-encoded items as a list.
    public static func encodeList(encodedItems: [[UInt8]]) -> [UInt8] {
        let total = encodedItems.reduce(0) { $0 + $1.count }
        var out = [UInt8]()
        out.reserveCapacity(total + 9)
        appendHeader(count: total, offset: 0xc0, to: &out)
        for e in encodedItems { out.append(contentsOf: e) }
        return out
    }

    static func appendHeader(count: Int, offset: UInt8, to out: inout [UInt8]) {
        if count < 56 { out.append(offset + UInt8(count)); return }
        var len = [UInt8]()
        var x = count
        while x > 0 { len.insert(UInt8(truncatingIfNeeded: x), at: 0); x >>= 8 }
        out.append(offset + 55 + UInt8(len.count))
        out.append(contentsOf: len)
    }

    // MARK: strict decoding

    /// Decodes exactly one item spanning the whole input; rejects every non-canonical form.
    public static func decode(_ data: [UInt8]) throws(RLPError) -> RLPItem {
        guard !data.isEmpty else { throw .empty }
        var pos = 0
        let item = try decodeItem(data, &pos, end: data.count, depth: 0)
        guard pos == data.count else { throw .trailingBytes(offset: pos, count: data.count - pos) }
        return item
    }

    /// Header of the item at `pos`: payload start, payload length and whether it is a list.
    static func header(_ d: [UInt8], _ pos: Int, end: Int) throws(RLPError) -> (start: Int, length: Int, isList: Bool) {
        let b = d[pos]
        switch b {
        case 0x00...0x7f:
            return (pos, 1, false)
        case 0x80...0xb7:
            let len = Int(b - 0x80)
            guard pos + 1 + len <= end else { throw .truncated(offset: pos, needed: 1 + len, available: end - pos) }
            if len == 1 && d[pos + 1] < 0x80 { throw .nonCanonicalSingleByte(offset: pos) }
            return (pos + 1, len, false)
        case 0xb8...0xbf:
            let len = try longLength(d, pos, lenOfLen: Int(b - 0xb7), end: end)
            return (pos + 1 + Int(b - 0xb7), len, false)
        case 0xc0...0xf7:
            let len = Int(b - 0xc0)
            guard pos + 1 + len <= end else { throw .truncated(offset: pos, needed: 1 + len, available: end - pos) }
            return (pos + 1, len, true)
        default:
            let len = try longLength(d, pos, lenOfLen: Int(b - 0xf7), end: end)
            return (pos + 1 + Int(b - 0xf7), len, true)
        }
    }

    static func longLength(_ d: [UInt8], _ pos: Int, lenOfLen: Int, end: Int) throws(RLPError) -> Int {
        guard pos + 1 + lenOfLen <= end else { throw .truncated(offset: pos, needed: 1 + lenOfLen, available: end - pos) }
        guard d[pos + 1] != 0 else { throw .lengthHasLeadingZero(offset: pos) }
        guard lenOfLen <= 7 else { throw .lengthTooLarge(offset: pos) }
        var len = 0
        for i in 0..<lenOfLen { len = len << 8 | Int(d[pos + 1 + i]) }
        guard len >= 56 else { throw .nonCanonicalLength(offset: pos) }
        let start = pos + 1 + lenOfLen
        guard len <= end - start else { throw .truncated(offset: pos, needed: 1 + lenOfLen + len, available: end - pos) }
        return len
    }

    /// `depth` counts the lists already open around this item.
    static func decodeItem(_ d: [UInt8], _ pos: inout Int, end: Int, depth: Int) throws(RLPError) -> RLPItem {
        guard pos < end else { throw .truncated(offset: pos, needed: 1, available: 0) }
        let (start, length, isList) = try header(d, pos, end: end)
        if !isList {
            pos = start + length
            return .bytes(Array(d[start..<(start + length)]))
        }
        guard depth < maxDepth else { throw .tooDeep(offset: pos, limit: maxDepth) }
        var items = [RLPItem]()
        var p = start
        let listEnd = start + length
        while p < listEnd { items.append(try decodeItem(d, &p, end: listEnd, depth: depth + 1)) }
        pos = listEnd
        return .list(items)
    }

    /// Splits a concatenation of RLP items (for example a chain.rlp of blocks) into their encodings.
    public static func splitConcatenated(_ data: [UInt8]) throws(RLPError) -> [[UInt8]] {
        var out = [[UInt8]]()
        var pos = 0
        while pos < data.count {
            let (start, length, _) = try header(data, pos, end: data.count)
            let stop = start + length
            out.append(Array(data[pos..<stop]))
            pos = stop
        }
        return out
    }
}

extension RLPItem {
    /// Interprets the item as a canonical unsigned integer (no leading zeros) of up to 64 bits.
    public func uint64() throws(RLPError) -> UInt64 {
        guard case .bytes(let b) = self else { throw .expected("an integer, found a list") }
        guard b.first != 0 else { throw .nonCanonicalInteger }
        guard b.count <= 8 else { throw .expected("an integer of at most 8 bytes, found \(b.count)") }
        return b.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public func u256() throws(RLPError) -> U256 {
        guard case .bytes(let b) = self else { throw .expected("an integer, found a list") }
        guard b.first != 0 else { throw .nonCanonicalInteger }
        guard b.count <= 32 else { throw .expected("an integer of at most 32 bytes, found \(b.count)") }
        return try! U256(bigEndian: b)
    }

    public func bytes() throws(RLPError) -> [UInt8] {
        guard case .bytes(let b) = self else { throw .expected("a byte string, found a list") }
        return b
    }

    public func list() throws(RLPError) -> [RLPItem] {
        guard case .list(let l) = self else { throw .expected("a list, found a byte string") }
        return l
    }
}
