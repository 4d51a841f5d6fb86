/// The syntax tree of a GraphQL document: executable definitions (operations and
/// fragments) and type system definitions (SDL). Every node keeps the location of its
/// first token so validation and execution errors can point into the text.

public enum OperationType: String, Sendable, Hashable {
    case query, mutation, subscription
}

/// A value written in the document: a literal, or a variable reference.
public struct ValueNode: Sendable, Hashable {
    public indirect enum Kind: Sendable, Hashable {
        case variable(String)
        case int(String)
        case float(String)
        case string(String)
        case boolean(Bool)
        case null
        case enumValue(String)
        case list([ValueNode])
        case object([ObjectFieldNode])
    }
    public var kind: Kind
    public var location: SourceLocation
}

public struct ObjectFieldNode: Sendable, Hashable {
    public var name: String
    public var value: ValueNode
    public var location: SourceLocation
}

/// A type reference: `Name`, `[T]`, `T!`.
public indirect enum TypeNode: Sendable, Hashable, CustomStringConvertible {
    case named(String, SourceLocation)
    case list(TypeNode, SourceLocation)
    case nonNull(TypeNode, SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .named(_, let l), .list(_, let l), .nonNull(_, let l): return l
        }
    }
    public var namedType: String {
        switch self {
        case .named(let n, _): return n
        case .list(let t, _), .nonNull(let t, _): return t.namedType
        }
    }
    public var description: String {
        switch self {
        case .named(let n, _): return n
        case .list(let t, _): return "[\(t)]"
        case .nonNull(let t, _): return "\(t)!"
        }
    }
}

public struct ArgumentNode: Sendable, Hashable {
    public var name: String
    public var value: ValueNode
    public var location: SourceLocation
}

public struct DirectiveNode: Sendable, Hashable {
    public var name: String
    public var arguments: [ArgumentNode]
    public var location: SourceLocation
}

public struct SelectionSetNode: Sendable, Hashable {
    public var selections: [SelectionNode]
    public var location: SourceLocation
}

public indirect enum SelectionNode: Sendable, Hashable {
    case field(FieldNode)
    case fragmentSpread(FragmentSpreadNode)
    case inlineFragment(InlineFragmentNode)

    public var directives: [DirectiveNode] {
        switch self {
        case .field(let f): return f.directives
        case .fragmentSpread(let s): return s.directives
        case .inlineFragment(let i): return i.directives
        }
    }
}

public struct FieldNode: Sendable, Hashable {
    public var alias: String?
    public var name: String
    public var arguments: [ArgumentNode]
    public var directives: [DirectiveNode]
    public var selectionSet: SelectionSetNode?
    public var location: SourceLocation
    /// The key of this field in the response object.
    public var responseKey: String { alias ?? name }
}

public struct FragmentSpreadNode: Sendable, Hashable {
    public var name: String
    public var nameLocation: SourceLocation
    public var directives: [DirectiveNode]
    public var location: SourceLocation
}

public struct InlineFragmentNode: Sendable, Hashable {
    public var typeCondition: String?
    public var typeConditionLocation: SourceLocation?
    public var directives: [DirectiveNode]
    public var selectionSet: SelectionSetNode
    public var location: SourceLocation
}

public struct VariableDefinitionNode: Sendable, Hashable {
    public var name: String
    public var nameLocation: SourceLocation
    public var type: TypeNode
    public var defaultValue: ValueNode?
    public var directives: [DirectiveNode]
    public var location: SourceLocation
}

public struct OperationDefinitionNode: Sendable, Hashable {
    public var operation: OperationType
    public var name: String?
    public var nameLocation: SourceLocation?
    public var variableDefinitions: [VariableDefinitionNode]
    public var directives: [DirectiveNode]
    public var selectionSet: SelectionSetNode
    public var location: SourceLocation
}

public struct FragmentDefinitionNode: Sendable, Hashable {
    public var name: String
    public var nameLocation: SourceLocation
    public var typeCondition: String
    public var typeConditionLocation: SourceLocation
    public var directives: [DirectiveNode]
    public var selectionSet: SelectionSetNode
    public var location: SourceLocation
}

// MARK: type system (SDL)

public struct InputValueDefinitionNode: Sendable, Hashable {
    public var description: String?
    public var name: String
    public var type: TypeNode
    public var defaultValue: ValueNode?
    public var directives: [DirectiveNode]
    public var location: SourceLocation
}

public struct FieldDefinitionNode: Sendable, Hashable {
    public var description: String?
    public var name: String
    public var arguments: [InputValueDefinitionNode]
    public var type: TypeNode
    public var directives: [DirectiveNode]
    public var location: SourceLocation
}

public struct EnumValueDefinitionNode: Sendable, Hashable {
    public var description: String?
    public var name: String
    public var directives: [DirectiveNode]
    public var location: SourceLocation
}

/// A named type definition, or (with `isExtension`) an extension of one.
public struct TypeDefinitionNode: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case scalar, object = "type", interface, union, enumeration = "enum", inputObject = "input"
    }
    public var kind: Kind
    public var isExtension: Bool
    public var description: String?
    public var name: String
    public var interfaces: [String] = []
    public var directives: [DirectiveNode] = []
    public var fields: [FieldDefinitionNode] = []
    public var unionMembers: [String] = []
    public var enumValues: [EnumValueDefinitionNode] = []
    public var inputFields: [InputValueDefinitionNode] = []
    public var location: SourceLocation
}

public struct SchemaDefinitionNode: Sendable, Hashable {
    public var description: String?
    public var isExtension: Bool
    public var directives: [DirectiveNode]
    public var operationTypes: [(OperationType, String)]
    public var location: SourceLocation

    public static func == (a: Self, b: Self) -> Bool {
        a.description == b.description && a.isExtension == b.isExtension && a.directives == b.directives
            && a.operationTypes.map(\.0) == b.operationTypes.map(\.0) && a.operationTypes.map(\.1) == b.operationTypes.map(\.1)
            && a.location == b.location
    }
    public func hash(into h: inout Hasher) { h.combine(location); h.combine(operationTypes.map(\.1)) }
}

public struct DirectiveDefinitionNode: Sendable, Hashable {
    public var description: String?
    public var name: String
    public var arguments: [InputValueDefinitionNode]
    public var isRepeatable: Bool
    public var locations: [String]
    public var location: SourceLocation
}

public enum DefinitionNode: Sendable, Hashable {
    case operation(OperationDefinitionNode)
    case fragment(FragmentDefinitionNode)
    case schema(SchemaDefinitionNode)
    case type(TypeDefinitionNode)
    case directive(DirectiveDefinitionNode)

    public var location: SourceLocation {
        switch self {
        case .operation(let o): return o.location
        case .fragment(let f): return f.location
        case .schema(let s): return s.location
        case .type(let t): return t.location
        case .directive(let d): return d.location
        }
    }
}

public struct DocumentNode: Sendable, Hashable {
    public var definitions: [DefinitionNode]

    public var operations: [OperationDefinitionNode] {
        definitions.compactMap { if case .operation(let o) = $0 { return o }; return nil }
    }
    public var fragments: [FragmentDefinitionNode] {
        definitions.compactMap { if case .fragment(let f) = $0 { return f }; return nil }
    }
}
