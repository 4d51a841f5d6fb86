/// The type system a document is validated and executed against, built from SDL text
/// (see `SchemaBuilder`). Resolution lives with the values (`ObjectValue`), so the schema
/// itself is plain data: shared, immutable and Sendable.

public indirect enum TypeRef: Hashable, Sendable, CustomStringConvertible {
    case named(String)
    case list(TypeRef)
    case nonNull(TypeRef)

    init(_ node: TypeNode) {
        switch node {
        case .named(let n, _): self = .named(n)
        case .list(let t, _): self = .list(TypeRef(t))
        case .nonNull(let t, _): self = .nonNull(TypeRef(t))
        }
    }

    public var namedType: String {
        switch self {
        case .named(let n): return n
        case .list(let t), .nonNull(let t): return t.namedType
        }
    }
    public var isNonNull: Bool { if case .nonNull = self { return true }; return false }
    /// The type without its outer non-null wrapper.
    public var nullable: TypeRef { if case .nonNull(let t) = self { return t }; return self }

    public var description: String {
        switch self {
        case .named(let n): return n
        case .list(let t): return "[\(t)]"
        case .nonNull(let t): return "\(t)!"
        }
    }
}

public enum TypeKind: String, Sendable {
    case scalar = "SCALAR", object = "OBJECT", interface = "INTERFACE", union = "UNION", enumeration = "ENUM", inputObject = "INPUT_OBJECT"
    case list = "LIST", nonNull = "NON_NULL"
}

public struct InputValueDefinition: Sendable {
    public var name: String
    public var description: String?
    public var type: TypeRef
    public var defaultValue: ValueNode?
    public var deprecationReason: String?
}

public struct FieldDefinition: Sendable {
    public var name: String
    public var description: String?
    public var arguments: [InputValueDefinition]
    public var type: TypeRef
    public var deprecationReason: String?

    public func argument(_ name: String) -> InputValueDefinition? { arguments.first { $0.name == name } }
}

public struct EnumValueDefinition: Sendable {
    public var name: String
    public var description: String?
    public var deprecationReason: String?
}

public struct NamedType: Sendable {
    public var kind: TypeKind
    public var name: String
    public var description: String?
    public var fields: [FieldDefinition] = []
    public var interfaces: [String] = []
    public var unionMembers: [String] = []
    public var enumValues: [EnumValueDefinition] = []
    public var inputFields: [InputValueDefinition] = []
    public var specifiedByURL: String?
    /// Built-in scalars and introspection types: not printed as part of the schema.
    public var isBuiltIn = false

    public func field(_ name: String) -> FieldDefinition? { fields.first { $0.name == name } }
    public func inputField(_ name: String) -> InputValueDefinition? { inputFields.first { $0.name == name } }

    public var isComposite: Bool { kind == .object || kind == .interface || kind == .union }
    public var isLeaf: Bool { kind == .scalar || kind == .enumeration }
    public var isInput: Bool { kind == .scalar || kind == .enumeration || kind == .inputObject }
    public var isAbstract: Bool { kind == .interface || kind == .union }
}

public struct DirectiveDefinition: Sendable {
    public var name: String
    public var description: String?
    public var arguments: [InputValueDefinition]
    public var locations: [String]
    public var isRepeatable: Bool
    public var isBuiltIn = false
}

public final class Schema: Sendable {
    public let description: String?
    public let types: [String: NamedType]
    /// Type names in definition order (built-ins last), for introspection and printing.
    public let typeNames: [String]
    public let queryType: String
    public let mutationType: String?
    public let subscriptionType: String?
    public let directives: [DirectiveDefinition]
    let scalars: [String: ScalarCoercion]
    /// Object type names per abstract type (interface implementations, union members).
    private let possible: [String: Set<String>]

    init(description: String?, types: [String: NamedType], typeNames: [String], queryType: String, mutationType: String?,
         subscriptionType: String?, directives: [DirectiveDefinition], scalars: [String: ScalarCoercion]) {
        self.description = description
        self.types = types
        self.typeNames = typeNames
        self.queryType = queryType
        self.mutationType = mutationType
        self.subscriptionType = subscriptionType
        self.directives = directives
        self.scalars = scalars
        var possible = [String: Set<String>]()
        for t in types.values {
            if t.kind == .union { possible[t.name, default: []].formUnion(t.unionMembers) }
            if t.kind == .object || t.kind == .interface { for i in t.interfaces { possible[i, default: []].insert(t.name) } }
        }
        self.possible = possible
    }

    public subscript(name: String) -> NamedType? { types[name] }

    public func directive(_ name: String) -> DirectiveDefinition? { directives.first { $0.name == name } }

    public func rootType(_ op: OperationType) -> String? {
        switch op {
        case .query: return queryType
        case .mutation: return mutationType
        case .subscription: return subscriptionType
        }
    }

    /// The object types a value of this composite type may have at run time.
    public func possibleTypes(_ name: String) -> Set<String> {
        guard let t = types[name] else { return [] }
        if t.kind == .object { return [name] }
        // Interfaces may be implemented by interfaces; keep only the object types.
        return (possible[name] ?? []).filter { types[$0]?.kind == .object }
    }

    /// Whether `sub` is `sup` or one of its possible types (for variable/field compatibility).
    public func isSubType(_ sub: String, of sup: String) -> Bool {
        sub == sup || possible[sup]?.contains(sub) == true
    }

    /// Whether some object type could be both (for fragment spreads).
    public func overlap(_ a: String, _ b: String) -> Bool {
        a == b || !possibleTypes(a).isDisjoint(with: possibleTypes(b))
    }

    func field(_ typeName: String, _ fieldName: String) -> FieldDefinition? { types[typeName]?.field(fieldName) }

    /// `__schema`, `__type` and `__typename`, which every query root / composite type has
    /// without declaring them.
    static let typenameField = FieldDefinition(name: "__typename", description: "The name of the current Object type at runtime.",
                                               arguments: [], type: .nonNull(.named("String")))
    static let schemaField = FieldDefinition(name: "__schema", description: "Access the current type schema of this server.",
                                             arguments: [], type: .nonNull(.named("__Schema")))
    static let typeField = FieldDefinition(name: "__type", description: "Request the type information of a single type.",
                                           arguments: [InputValueDefinition(name: "name", type: .nonNull(.named("String")))],
                                           type: .named("__Type"))

    /// Field lookup including the implicit introspection fields.
    func fieldIncludingMeta(_ typeName: String, _ fieldName: String) -> FieldDefinition? {
        if fieldName == "__typename", types[typeName]?.isComposite == true { return Self.typenameField }
        if typeName == queryType {
            if fieldName == "__schema" { return Self.schemaField }
            if fieldName == "__type" { return Self.typeField }
        }
        return field(typeName, fieldName)
    }

    /// Whether a value of `type` may be used where `expected` is required (variable positions).
    func isTypeSubType(_ type: TypeRef, of expected: TypeRef) -> Bool {
        switch (type, expected) {
        case (.nonNull(let t), .nonNull(let e)): return isTypeSubType(t, of: e)
        case (.nonNull(let t), _): return isTypeSubType(t, of: expected)
        case (_, .nonNull): return false
        case (.list(let t), .list(let e)): return isTypeSubType(t, of: e)
        case (.list, _), (_, .list): return false
        case (.named(let a), .named(let b)): return isSubType(a, of: b)
        }
    }
}

extension InputValueDefinition {
    init(name: String, type: TypeRef) { self.init(name: name, description: nil, type: type, defaultValue: nil, deprecationReason: nil) }
}
