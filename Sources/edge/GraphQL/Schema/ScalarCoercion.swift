import Chain

/// An input scalar as it reaches coercion: from a literal in the document or a JSON
/// variable value. Literal kinds are kept apart because the spec makes them matter
/// (an Int field does not accept the string "1", a String does not accept an enum name).
public enum InputScalar: Sendable {
    case int(String)
    case float(String)
    case string(String)
    case boolean(Bool)
    case enumName(String)

    /// How graphql-js prints the offending value in a coercion message.
    var printed: String {
        switch self {
        case .int(let s), .float(let s), .enumName(let s): return s
        case .string(let s): return GraphQLText.quoted(s)
        case .boolean(let b): return b ? "true" : "false"
        }
    }

    init?(json: JSONValue) {
        switch json {
        case .bool(let b): self = .boolean(b)
        case .string(let s): self = .string(s)
        case .number(let n): self = n.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? .float(n) : .int(n)
        default: return nil
        }
    }
}

/// Why a scalar value was refused. `standalone` messages are complete sentences
/// (graphql-js's built-in scalars word them so); others get prefixed with the expected type.
public struct CoercionError: Error, Sendable {
    public var message: String
    public var standalone: Bool
    public init(_ message: String, standalone: Bool = false) { self.message = message; self.standalone = standalone }
}

/// How a scalar type turns input into its canonical internal JSON form and how a
/// resolver's value is checked on the way out.
public struct ScalarCoercion: Sendable {
    public var input: @Sendable (InputScalar) throws(CoercionError) -> JSONValue
    public var output: @Sendable (JSONValue) throws(CoercionError) -> JSONValue

    public init(input: @escaping @Sendable (InputScalar) throws(CoercionError) -> JSONValue,
                output: @escaping @Sendable (JSONValue) throws(CoercionError) -> JSONValue) {
        self.input = input; self.output = output
    }

    static func describe(_ v: JSONValue) -> String {
        if case .string(let s) = v { return GraphQLText.quoted(s) }
        return JSON.serialize(v)
    }

    /// The five scalars every schema has, with graphql-js's rules and messages.
    static let builtIn: [String: ScalarCoercion] = [
        "Int": ScalarCoercion(input: { v throws(CoercionError) in
            guard case .int(let s) = v else { throw CoercionError("Int cannot represent non-integer value: \(echo(v.printed))", standalone: true) }
            guard let i = Int32(s) else { throw CoercionError("Int cannot represent non 32-bit signed integer value: \(echo(s))", standalone: true) }
            return .number(String(i))
        }, output: { v throws(CoercionError) in
            switch v {
            case .number(let n):
                guard let i = Int32(n) else { throw CoercionError("Int cannot represent non 32-bit signed integer value: \(echo(n))", standalone: true) }
                return .number(String(i))
            case .bool(let b): return .number(b ? "1" : "0")
            default: throw CoercionError("Int cannot represent non-integer value: \(echo(describe(v)))", standalone: true)
            }
        }),
        "Float": ScalarCoercion(input: { v throws(CoercionError) in
            switch v {
            case .int(let s), .float(let s):
                guard Double(s)?.isFinite == true else { throw CoercionError("Float cannot represent non numeric value: \(echo(v.printed))", standalone: true) }
                return .number(s)
            default: throw CoercionError("Float cannot represent non numeric value: \(echo(v.printed))", standalone: true)
            }
        }, output: { v throws(CoercionError) in
            guard case .number = v else { throw CoercionError("Float cannot represent non numeric value: \(echo(describe(v)))", standalone: true) }
            return v
        }),
        "String": ScalarCoercion(input: { v throws(CoercionError) in
            guard case .string(let s) = v else { throw CoercionError("String cannot represent a non string value: \(echo(v.printed))", standalone: true) }
            return .string(s)
        }, output: { v throws(CoercionError) in
            switch v {
            case .string: return v
            case .number(let n): return .string(n)
            case .bool(let b): return .string(b ? "true" : "false")
            default: throw CoercionError("String cannot represent value: \(echo(describe(v)))", standalone: true)
            }
        }),
        "Boolean": ScalarCoercion(input: { v throws(CoercionError) in
            guard case .boolean(let b) = v else { throw CoercionError("Boolean cannot represent a non boolean value: \(echo(v.printed))", standalone: true) }
            return .bool(b)
        }, output: { v throws(CoercionError) in
            guard case .bool = v else { throw CoercionError("Boolean cannot represent a non boolean value: \(echo(describe(v)))", standalone: true) }
            return v
        }),
        "ID": ScalarCoercion(input: { v throws(CoercionError) in
            switch v {
            case .string(let s), .int(let s): return .string(s)
            default: throw CoercionError("ID cannot represent a non-string and non-integer value: \(echo(v.printed))", standalone: true)
            }
        }, output: { v throws(CoercionError) in
            switch v {
            case .string: return v
            case .number(let n): return .string(n)
            default: throw CoercionError("ID cannot represent value: \(echo(describe(v)))", standalone: true)
            }
        }),
    ]

    /// A custom scalar with no declared rules: accepts and returns any scalar as is.
    static let passThrough = ScalarCoercion(input: { v throws(CoercionError) in
        switch v {
        case .int(let s), .float(let s): return .number(s)
        case .string(let s), .enumName(let s): return .string(s)
        case .boolean(let b): return .bool(b)
        }
    }, output: { v throws(CoercionError) in v })
}
