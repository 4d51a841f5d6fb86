import ByteCodec
import Chain

/// An event's ABI signature as people write it, `Name(type [indexed] [name], ...)`, and the
/// decoding of a log by it: indexed arguments from the topics, the rest from the data by the
/// Solidity ABI's head/tail layout. Decoded are the elementary types, `string`, `bytes`, and
/// arrays (fixed or dynamic) of static elementary types; an indexed dynamic argument is only
/// its keccak hash in the topic, so that hash is what it decodes to. Anything else (tuples,
/// nested arrays) makes the signature valid but the log undecoded.
public struct EventABI: Equatable, Sendable {
    public struct Param: Equatable, Sendable {
        public var type: String
        public var indexed: Bool
        public var name: String
    }

    public var name: String
    public var params: [Param]

    /// `Name(type1,type2)` with `uint`/`int` written out: what topic 0 hashes.
    public var canonical: String { name + "(" + params.map(\.type).joined(separator: ",") + ")" }
    public var topic0: Hash32 { Hash32.keccak(Array(canonical.utf8)) }

    static let elementary: Set<String> = ["address", "bool", "string", "bytes", "int", "uint", "function"]

    /// Why `text` is not an event signature, or nil.
    public static func problem(_ text: String) -> String? {
        if case .failure(let why) = parse(text) { return why.description }
        return nil
    }

    public static func parse(_ text: String) -> Result<EventABI, WebhookFilter.Problem> {
        func fail(_ s: String) -> Result<EventABI, WebhookFilter.Problem> { .failure(.init(description: s)) }
        guard text.utf8.count <= 1024 else { return fail("at most 1024 characters") }
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else { return fail("must look like Name(type [indexed] name, ...)") }
        let name = text[..<open].trimmingCharacters(in: .whitespaces)
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || first == "_",
              name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || $0 == "_" || ("0"..."9").contains($0) }) else {
            return fail("the event name \(boundedQuote(name)) is not an identifier")
        }
        var abi = EventABI(name: name, params: [])
        let inner = text[text.index(after: open)..<text.index(before: text.endIndex)]
        guard !inner.trimmingCharacters(in: .whitespaces).isEmpty else { return .success(abi) }
        for param in inner.split(separator: ",", omittingEmptySubsequences: false) {
            let words = param.split(separator: " ").map(String.init)
            guard let type = words.first, (1...3).contains(words.count) else { return fail("\(boundedQuote(String(param))) is not \"type [indexed] [name]\"") }
            if words.count == 3, words[1] != "indexed" { return fail("\(boundedQuote(String(param))): only \"indexed\" may follow the type") }
            guard validType(type) else { return fail("\(boundedQuote(type)) is not a Solidity type") }
            let indexed = words.count >= 2 && words[1] == "indexed"
            let pname = words.count == 3 ? words[2] : (words.count == 2 && !indexed ? words[1] : "")
            abi.params.append(Param(type: Self.canonicalType(type), indexed: indexed, name: pname))
        }
        guard abi.params.filter(\.indexed).count <= 3 else { return fail("at most 3 indexed arguments (topic 0 is the signature)") }
        return .success(abi)
    }

    static func validType(_ t: String) -> Bool {
        var base = Substring(t)
        while base.hasSuffix("]") {
            guard let open = base.lastIndex(of: "[") else { return false }
            let n = base[base.index(after: open)..<base.index(before: base.endIndex)]
            guard n.isEmpty || Int(n).map({ $0 > 0 }) == true else { return false }
            base = base[..<open]
        }
        if elementary.contains(String(base)) { return true }
        for (prefix, range) in [("uint", 8...256), ("int", 8...256), ("bytes", 1...32)] where base.hasPrefix(prefix) {
            guard let n = Int(base.dropFirst(prefix.count)), range.contains(n) else { return false }
            return prefix == "bytes" || n % 8 == 0
        }
        return false
    }

    static func canonicalType(_ t: String) -> String {
        let cut = t.firstIndex(of: "[") ?? t.endIndex
        let base = t[..<cut], dims = t[cut...]
        switch base {
        case "uint": return "uint256" + dims
        case "int": return "int256" + dims
        default: return t
        }
    }

    // MARK: decoding

    struct Undecodable: Error, CustomStringConvertible { let description: String }

    /// The arguments of a log this signature describes, in order (named `arg0`… where the
    /// signature names none); nil when a type is outside what is decoded. Throws when the
    /// log does not fit the signature (too few topics, data too short).
    public func decode(topics: [Hash32], data: [UInt8]) throws -> JSONObject? {
        guard params.allSatisfy({ Self.decodable($0.type) }) else { return nil }
        var args = JSONObject()
        var topic = 1, head = 0
        for (i, p) in params.enumerated() {
            let key = p.name.isEmpty ? "arg\(i)" : p.name
            if p.indexed {
                guard topic < topics.count else { throw Undecodable(description: "\(topics.count) topics, and \(p.type) \(key) is indexed") }
                let word = topics[topic].bytes
                topic += 1
                args[key] = Self.isDynamic(p.type) ? .string(Hex.encode(word)) : try Self.word(p.type, word[...])
            } else {
                args[key] = try Self.value(p.type, data, at: head, base: 0)
                head += Self.headSize(p.type)
            }
        }
        return args
    }

    static func decodable(_ t: String) -> Bool {
        guard let (element, _) = arrayParts(t) else { return true }
        return arrayParts(element) == nil && !isDynamic(element)
    }

    /// `T[k]` or `T[]` → (T, k or nil); nil for a non-array.
    static func arrayParts(_ t: String) -> (String, Int?)? {
        guard t.hasSuffix("]"), let open = t.lastIndex(of: "[") else { return nil }
        let n = t[t.index(after: open)..<t.index(before: t.endIndex)]
        return (String(t[..<open]), n.isEmpty ? nil : Int(n))
    }

    static func isDynamic(_ t: String) -> Bool {
        if t == "string" || t == "bytes" { return true }
        guard let (element, count) = arrayParts(t) else { return false }
        return count == nil || isDynamic(element)
    }

    static func headSize(_ t: String) -> Int {
        if !isDynamic(t), let (element, count) = arrayParts(t), let count { return count * headSize(element) }
        return 32
    }

    static func value(_ t: String, _ data: [UInt8], at offset: Int, base: Int) throws -> JSONValue {
        func words(_ at: Int, _ n: Int) throws -> ArraySlice<UInt8> {
            guard at >= 0, n >= 0, at <= data.count, n <= (data.count - at) / 32 else { throw Undecodable(description: "the data ends inside \(t)") }
            return data[at..<(at + 32 * n)]
        }
        func offsetAt(_ at: Int) throws -> Int {
            let w = try words(at, 1)
            guard w.prefix(24).allSatisfy({ $0 == 0 }) else { throw Undecodable(description: "an offset beyond the data in \(t)") }
            let v = w.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
            guard v <= UInt64(data.count) else { throw Undecodable(description: "an offset beyond the data in \(t)") }
            return Int(v)
        }
        if t == "string" || t == "bytes" {
            let start = base + (try offsetAt(offset))
            let length = try offsetAt(start)
            guard start + 32 + length <= data.count else { throw Undecodable(description: "\(t) of \(length) bytes runs past the data") }
            let bytes = Array(data[(start + 32)..<(start + 32 + length)])
            if t == "string", let s = String(validating: bytes, as: UTF8.self) { return .string(s) }
            return .string(Hex.encode(bytes))
        }
        if let (element, count) = arrayParts(t) {
            if let count {
                return .array(try (0..<count).map { i in try word(element, try words(offset + 32 * i, 1)) })
            }
            let start = base + (try offsetAt(offset))
            let n = try offsetAt(start)
            return .array(try (0..<n).map { i in try word(element, try words(start + 32 + 32 * i, 1)) })
        }
        return try word(t, try words(offset, 1))
    }

    /// One 32-byte word as a value of static elementary type `t`: integers as decimal strings
    /// (JSON numbers lose precision past 2^53), addresses and bytesN as 0x hex.
    static func word(_ t: String, _ w: ArraySlice<UInt8>) throws -> JSONValue {
        precondition(w.count == 32, "an ABI word is 32 bytes")
        let v = try U256(bigEndian: w)
        switch t {
        case "address": return .string(Hex.encode(Array(w.suffix(20))))
        case "bool":
            guard v.uint64 == 0 || v.uint64 == 1 else { throw Undecodable(description: "a bool word that is neither 0 nor 1") }
            return .bool(v.uint64 == 1)
        case "function": return .string(Hex.encode(Array(w.prefix(24))))
        default: break
        }
        if t.hasPrefix("uint") { return .string(v.description) }
        if t.hasPrefix("int") {
            guard v.bit(255) else { return .string(v.description) }
            return .string("-" + ((U256.max &- v) &+ .one).description)
        }
        if t.hasPrefix("bytes"), let n = Int(t.dropFirst(5)) { return .string(Hex.encode(Array(w.prefix(n)))) }
        throw Undecodable(description: "type \(t) is not decoded")
    }
}
