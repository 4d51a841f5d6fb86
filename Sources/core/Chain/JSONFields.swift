/// Typed, strict access to the fields of a JSON-RPC object. Every error names the
/// field (with its path) and what was wrong, so a bad upstream answer is diagnosable
/// from one log line.
public struct FieldError: Error, Equatable, CustomStringConvertible {
    public let field: String
    public let problem: String
    public init(field: String, problem: String) { self.field = field; self.problem = problem }
    public var description: String { "\(field): \(problem)" }

    func within(_ parent: String) -> FieldError { FieldError(field: parent + "." + field, problem: problem) }
}

extension JSONObject {
    public func value(_ key: String) throws(FieldError) -> JSONValue {
        guard let v = self[key], !v.isNull else { throw FieldError(field: key, problem: "missing") }
        return v
    }

    public func has(_ key: String) -> Bool { if let v = self[key], !v.isNull { return true }; return false }

    public func string(_ key: String) throws(FieldError) -> String {
        guard let s = try value(key).stringValue else { throw FieldError(field: key, problem: "expected a string") }
        return s
    }

    public func object(_ key: String) throws(FieldError) -> JSONObject {
        guard let o = try value(key).objectValue else { throw FieldError(field: key, problem: "expected an object") }
        return o
    }

    public func array(_ key: String) throws(FieldError) -> [JSONValue] {
        guard let a = try value(key).arrayValue else { throw FieldError(field: key, problem: "expected an array") }
        return a
    }

    public func quantity(_ key: String) throws(FieldError) -> UInt64 {
        let s = try string(key)
        do { return try Hex.decodeQuantity(s) } catch { throw FieldError(field: key, problem: error.description) }
    }

    public func u256(_ key: String) throws(FieldError) -> U256 {
        let s = try string(key)
        do { return try U256(quantity: s) } catch { throw FieldError(field: key, problem: error.description) }
    }

    public func data(_ key: String) throws(FieldError) -> [UInt8] {
        let s = try string(key)
        do { return try Hex.decodeData(s) } catch { throw FieldError(field: key, problem: error.description) }
    }

    public func data(_ key: String, length: Int) throws(FieldError) -> [UInt8] {
        let s = try string(key)
        do { return try Hex.decodeData(s, length: length) } catch { throw FieldError(field: key, problem: error.description) }
    }

    public func hash(_ key: String) throws(FieldError) -> Hash32 { Hash32(unchecked: try data(key, length: 32)) }

    public func bloom(_ key: String) throws(FieldError) -> Bloom { try! Bloom(try data(key, length: Bloom.byteCount)) }

    public func address(_ key: String) throws(FieldError) -> Address {
        let s = try string(key)
        do { return try Address(hex: s) } catch { throw FieldError(field: key, problem: error.description) }
    }

    public func optionalAddress(_ key: String) throws(FieldError) -> Address? {
        has(key) ? try address(key) : nil
    }

    public func bool(_ key: String) throws(FieldError) -> Bool {
        guard let b = try value(key).boolValue else { throw FieldError(field: key, problem: "expected true or false") }
        return b
    }
}

extension JSONValue {
    /// The value as an object, or an error naming `path`.
    public func object(at path: String) throws(FieldError) -> JSONObject {
        guard let o = objectValue else { throw FieldError(field: path, problem: "expected an object") }
        return o
    }
}
