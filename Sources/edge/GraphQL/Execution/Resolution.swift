import Chain

/// What a resolver hands back to the executor. Leaves are JSON in the scalar's output
/// form (checked by the scalar's output coercion); objects resolve their own fields.
public enum Resolved {
    case null
    case leaf(JSONValue)
    case object(any ObjectValue)
    case list([Resolved])

    public static func string(_ s: String?) -> Resolved { s.map { .leaf(.string($0)) } ?? .null }
    public static func bool(_ b: Bool?) -> Resolved { b.map { .leaf(.bool($0)) } ?? .null }
    public static func int<I: BinaryInteger>(_ i: I?) -> Resolved { i.map { .leaf(.number(String($0))) } ?? .null }
}

/// A value of an object type at run time. `typeName` is its concrete object type (which
/// also resolves interfaces and unions); `resolve` answers one field of it.
public protocol ObjectValue {
    var typeName: String { get }
    func resolve(field: String, arguments: Arguments) throws -> Resolved
}

/// A field's coerced arguments: absent arguments have no entry, explicit null is `.null`.
public struct Arguments: Sendable {
    public var values: [String: JSONValue]
    public init(_ values: [String: JSONValue] = [:]) { self.values = values }

    public subscript(name: String) -> JSONValue? {
        guard let v = values[name], v != .null else { return nil }
        return v
    }
    public func string(_ name: String) -> String? { self[name]?.stringValue }
    public func bool(_ name: String) -> Bool? { self[name]?.boolValue }
    public func int(_ name: String) -> Int? { if case .number(let n)? = self[name] { return Int(n) }; return nil }
    public func uint64(_ name: String) -> UInt64? { if case .number(let n)? = self[name] { return UInt64(n) }; return nil }
    public func object(_ name: String) -> JSONObject? { self[name]?.objectValue }
}

/// A resolver failure with a message meant for the client.
public struct FieldFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
