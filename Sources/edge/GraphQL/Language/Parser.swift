/// Recursive-descent parser for GraphQL documents (October 2021 spec): executable
/// definitions and the type system definition language. Tokens are read lazily so the
/// first problem in reading order is the one reported, as graphql-js does. Nesting of
/// selection sets, list/object values and list types is capped so hostile input cannot
/// exhaust the stack.
public struct Parser {
    public static let defaultMaxNesting = 64

    private var lexer: Lexer
    private var token: Token
    private var lookahead: Token?
    private let maxNesting: Int
    private var nesting = 0

    public static func parse(_ text: String, maxNesting: Int = defaultMaxNesting) throws(GraphQLError) -> DocumentNode {
        var p = try Parser(text, maxNesting: maxNesting)
        return try p.document()
    }

    init(_ text: String, maxNesting: Int) throws(GraphQLError) {
        lexer = Lexer(text)
        self.maxNesting = maxNesting
        token = try lexer.next()
    }

    // MARK: token helpers

    private mutating func advance() throws(GraphQLError) {
        if let l = lookahead { token = l; lookahead = nil } else { token = try lexer.next() }
    }

    private mutating func peekNext() throws(GraphQLError) -> Token {
        if let l = lookahead { return l }
        let l = try lexer.next()
        lookahead = l
        return l
    }

    private func peek(_ kind: TokenKind) -> Bool { token.kind == kind }

    private func syntaxError(_ message: String, _ at: SourceLocation) -> GraphQLError {
        GraphQLError("Syntax Error: " + message, locations: [at])
    }

    private func unexpected(_ t: Token? = nil) -> GraphQLError {
        let t = t ?? token
        return syntaxError("Unexpected \(t.description).", t.location)
    }

    @discardableResult
    private mutating func expect(_ kind: TokenKind) throws(GraphQLError) -> Token {
        let t = token
        guard t.kind == kind else { throw syntaxError("Expected \(kind.description), found \(t.description).", t.location) }
        try advance()
        return t
    }

    private mutating func expectOptional(_ kind: TokenKind) throws(GraphQLError) -> Bool {
        guard token.kind == kind else { return false }
        try advance()
        return true
    }

    private mutating func expectKeyword(_ word: String) throws(GraphQLError) {
        guard token.kind == .name, token.value == word else {
            throw syntaxError("Expected \"\(word)\", found \(token.description).", token.location)
        }
        try advance()
    }

    private mutating func expectOptionalKeyword(_ word: String) throws(GraphQLError) -> Bool {
        guard token.kind == .name, token.value == word else { return false }
        try advance()
        return true
    }

    private mutating func name() throws(GraphQLError) -> (String, SourceLocation) {
        let t = try expect(.name)
        return (t.value ?? "", t.location)
    }

    /// `open item+ close`: at least one item.
    private mutating func many<T>(_ open: TokenKind, _ close: TokenKind, _ item: (inout Parser) throws(GraphQLError) -> T) throws(GraphQLError) -> [T] {
        try expect(open)
        var out = [T]()
        repeat { out.append(try item(&self)) } while try !expectOptional(close)
        return out
    }

    /// Like `many`, but the whole group may be absent.
    private mutating func optionalMany<T>(_ open: TokenKind, _ close: TokenKind, _ item: (inout Parser) throws(GraphQLError) -> T) throws(GraphQLError) -> [T] {
        peek(open) ? try many(open, close, item) : []
    }

    /// `open item* close`: possibly empty.
    private mutating func any<T>(_ open: TokenKind, _ close: TokenKind, _ item: (inout Parser) throws(GraphQLError) -> T) throws(GraphQLError) -> [T] {
        try expect(open)
        var out = [T]()
        while try !expectOptional(close) { out.append(try item(&self)) }
        return out
    }

    /// `sep? item (sep item)*`, as in `implements & A & B` and `= | A | B`.
    private mutating func delimitedMany<T>(_ sep: TokenKind, _ item: (inout Parser) throws(GraphQLError) -> T) throws(GraphQLError) -> [T] {
        _ = try expectOptional(sep)
        var out = [T]()
        repeat { out.append(try item(&self)) } while try expectOptional(sep)
        return out
    }

    private mutating func nest<T>(_ body: (inout Parser) throws(GraphQLError) -> T) throws(GraphQLError) -> T {
        guard nesting < maxNesting else {
            throw syntaxError("Document nesting exceeds the limit of \(maxNesting) levels.", token.location)
        }
        nesting += 1
        defer { nesting -= 1 }
        return try body(&self)
    }

    // MARK: document

    mutating func document() throws(GraphQLError) -> DocumentNode {
        var defs = [DefinitionNode]()
        repeat { defs.append(try definition()) } while !peek(.endOfFile)
        return DocumentNode(definitions: defs)
    }

    private mutating func definition() throws(GraphQLError) -> DefinitionNode {
        if peek(.braceL) { return .operation(try operation()) }
        let hasDescription = peek(.string) || peek(.blockString)
        let keyword = hasDescription ? try peekNext() : token
        if keyword.kind == .name, let word = keyword.value {
            switch word {
            case "schema", "scalar", "type", "interface", "union", "enum", "input", "directive":
                return try typeSystemDefinition(word)
            default:
                break
            }
            if hasDescription {
                throw syntaxError("Unexpected description, descriptions are supported only on type definitions.", token.location)
            }
            switch word {
            case "query", "mutation", "subscription": return .operation(try operation())
            case "fragment": return .fragment(try fragmentDefinition())
            case "extend": return try typeSystemExtension()
            default: break
            }
        }
        throw unexpected(keyword)
    }

    // MARK: executable definitions

    private mutating func operation() throws(GraphQLError) -> OperationDefinitionNode {
        let start = token.location
        if peek(.braceL) {
            return OperationDefinitionNode(operation: .query, name: nil, nameLocation: nil, variableDefinitions: [], directives: [],
                                           selectionSet: try selectionSet(), location: start)
        }
        let op = try operationType()
        let named = peek(.name) ? try name() : nil
        let vars = try optionalMany(.parenL, .parenR) { (p: inout Parser) throws(GraphQLError) in try p.variableDefinition() }
        let dirs = try directives(isConst: false)
        return OperationDefinitionNode(operation: op, name: named?.0, nameLocation: named?.1, variableDefinitions: vars, directives: dirs,
                                       selectionSet: try selectionSet(), location: start)
    }

    private mutating func operationType() throws(GraphQLError) -> OperationType {
        let t = try expect(.name)
        guard let v = t.value, let op = OperationType(rawValue: v) else { throw unexpected(t) }
        return op
    }

    private mutating func variableDefinition() throws(GraphQLError) -> VariableDefinitionNode {
        let start = token.location
        try expect(.dollar)
        let (n, nameLoc) = try name()
        try expect(.colon)
        let type = try typeReference()
        let def = try expectOptional(.equals) ? try value(isConst: true) : nil
        return VariableDefinitionNode(name: n, nameLocation: nameLoc, type: type, defaultValue: def, directives: try directives(isConst: true), location: start)
    }

    private mutating func selectionSet() throws(GraphQLError) -> SelectionSetNode {
        try nest { (p: inout Parser) throws(GraphQLError) in
            let start = p.token.location
            let sels = try p.many(.braceL, .braceR) { (q: inout Parser) throws(GraphQLError) in try q.selection() }
            return SelectionSetNode(selections: sels, location: start)
        }
    }

    private mutating func selection() throws(GraphQLError) -> SelectionNode {
        peek(.spread) ? try fragment() : .field(try field())
    }

    private mutating func field() throws(GraphQLError) -> FieldNode {
        let start = token.location
        let (first, _) = try name()
        var alias: String? = nil
        var fieldName = first
        if try expectOptional(.colon) { alias = first; fieldName = try name().0 }
        let args = try arguments(isConst: false)
        let dirs = try directives(isConst: false)
        let sub = peek(.braceL) ? try selectionSet() : nil
        return FieldNode(alias: alias, name: fieldName, arguments: args, directives: dirs, selectionSet: sub, location: start)
    }

    private mutating func arguments(isConst: Bool) throws(GraphQLError) -> [ArgumentNode] {
        try optionalMany(.parenL, .parenR) { (p: inout Parser) throws(GraphQLError) in
            let start = p.token.location
            let (n, _) = try p.name()
            try p.expect(.colon)
            return ArgumentNode(name: n, value: try p.value(isConst: isConst), location: start)
        }
    }

    private mutating func fragment() throws(GraphQLError) -> SelectionNode {
        let start = token.location
        try expect(.spread)
        let hasCondition = try expectOptionalKeyword("on")
        if !hasCondition && peek(.name) {
            let nameLoc = token.location
            let n = try fragmentName()
            return .fragmentSpread(FragmentSpreadNode(name: n, nameLocation: nameLoc, directives: try directives(isConst: false), location: start))
        }
        let cond = hasCondition ? try name() : nil
        let dirs = try directives(isConst: false)
        return .inlineFragment(InlineFragmentNode(typeCondition: cond?.0, typeConditionLocation: cond?.1, directives: dirs,
                                                  selectionSet: try selectionSet(), location: start))
    }

    private mutating func fragmentName() throws(GraphQLError) -> String {
        if token.kind == .name, token.value == "on" { throw unexpected() }
        return try name().0
    }

    private mutating func fragmentDefinition() throws(GraphQLError) -> FragmentDefinitionNode {
        let start = token.location
        try expectKeyword("fragment")
        let nameLoc = token.location
        let n = try fragmentName()
        try expectKeyword("on")
        let (cond, condLoc) = try name()
        let dirs = try directives(isConst: false)
        return FragmentDefinitionNode(name: n, nameLocation: nameLoc, typeCondition: cond, typeConditionLocation: condLoc, directives: dirs,
                                      selectionSet: try selectionSet(), location: start)
    }

    private mutating func directives(isConst: Bool) throws(GraphQLError) -> [DirectiveNode] {
        var out = [DirectiveNode]()
        while peek(.at) {
            let start = token.location
            try advance()
            let (n, _) = try name()
            out.append(DirectiveNode(name: n, arguments: try arguments(isConst: isConst), location: start))
        }
        return out
    }

    // MARK: values and types

    mutating func value(isConst: Bool) throws(GraphQLError) -> ValueNode {
        let t = token
        switch t.kind {
        case .bracketL:
            return try nest { (p: inout Parser) throws(GraphQLError) in
                let items = try p.any(.bracketL, .bracketR) { (q: inout Parser) throws(GraphQLError) in try q.value(isConst: isConst) }
                return ValueNode(kind: .list(items), location: t.location)
            }
        case .braceL:
            return try nest { (p: inout Parser) throws(GraphQLError) in
                let fields = try p.any(.braceL, .braceR) { (q: inout Parser) throws(GraphQLError) in
                    let start = q.token.location
                    let (n, _) = try q.name()
                    try q.expect(.colon)
                    return ObjectFieldNode(name: n, value: try q.value(isConst: isConst), location: start)
                }
                return ValueNode(kind: .object(fields), location: t.location)
            }
        case .int:
            try advance(); return ValueNode(kind: .int(t.value ?? "0"), location: t.location)
        case .float:
            try advance(); return ValueNode(kind: .float(t.value ?? "0"), location: t.location)
        case .string, .blockString:
            try advance(); return ValueNode(kind: .string(t.value ?? ""), location: t.location)
        case .name:
            try advance()
            switch t.value ?? "" {
            case "true": return ValueNode(kind: .boolean(true), location: t.location)
            case "false": return ValueNode(kind: .boolean(false), location: t.location)
            case "null": return ValueNode(kind: .null, location: t.location)
            default: return ValueNode(kind: .enumValue(t.value ?? ""), location: t.location)
            }
        case .dollar:
            if isConst {
                try advance()
                if token.kind == .name, let v = token.value {
                    throw syntaxError("Unexpected variable \"$\(v)\" in constant value.", t.location)
                }
                throw unexpected(t)
            }
            try advance()
            return ValueNode(kind: .variable(try name().0), location: t.location)
        default:
            throw unexpected()
        }
    }

    mutating func typeReference() throws(GraphQLError) -> TypeNode {
        let start = token.location
        let base: TypeNode
        if peek(.bracketL) {
            base = try nest { (p: inout Parser) throws(GraphQLError) in
                try p.advance()
                let inner = try p.typeReference()
                try p.expect(.bracketR)
                return TypeNode.list(inner, start)
            }
        } else {
            base = .named(try name().0, start)
        }
        return try expectOptional(.bang) ? .nonNull(base, start) : base
    }

    // MARK: type system definitions

    private mutating func description() throws(GraphQLError) -> String? {
        guard peek(.string) || peek(.blockString) else { return nil }
        let v = token.value
        try advance()
        return v
    }

    private mutating func typeSystemDefinition(_ word: String) throws(GraphQLError) -> DefinitionNode {
        let start = token.location
        let desc = try description()
        switch word {
        case "schema":
            try expectKeyword("schema")
            return .schema(try schemaBody(desc, isExtension: false, start))
        case "directive":
            return .directive(try directiveDefinition(desc, start))
        default:
            return .type(try typeBody(word, desc, isExtension: false, start))
        }
    }

    private mutating func typeSystemExtension() throws(GraphQLError) -> DefinitionNode {
        let start = token.location
        try expectKeyword("extend")
        guard token.kind == .name, let word = token.value else { throw unexpected() }
        switch word {
        case "schema":
            try advance()
            return .schema(try schemaBody(nil, isExtension: true, start))
        case "scalar", "type", "interface", "union", "enum", "input":
            return .type(try typeBody(word, nil, isExtension: true, start))
        default:
            throw unexpected()
        }
    }

    private mutating func schemaBody(_ desc: String?, isExtension: Bool, _ start: SourceLocation) throws(GraphQLError) -> SchemaDefinitionNode {
        let dirs = try directives(isConst: true)
        let entry = { (p: inout Parser) throws(GraphQLError) -> (OperationType, String) in
            let op = try p.operationType()
            try p.expect(.colon)
            return (op, try p.name().0)
        }
        let ops = isExtension ? try optionalMany(.braceL, .braceR, entry) : try many(.braceL, .braceR, entry)
        return SchemaDefinitionNode(description: desc, isExtension: isExtension, directives: dirs, operationTypes: ops, location: start)
    }

    private mutating func typeBody(_ word: String, _ desc: String?, isExtension: Bool, _ start: SourceLocation) throws(GraphQLError) -> TypeDefinitionNode {
        try expectKeyword(word)
        let (n, _) = try name()
        let kind = TypeDefinitionNode.Kind(rawValue: word) ?? .scalar
        var def = TypeDefinitionNode(kind: kind, isExtension: isExtension, description: desc, name: n, location: start)
        switch kind {
        case .scalar:
            def.directives = try directives(isConst: true)
        case .object, .interface:
            if try expectOptionalKeyword("implements") {
                def.interfaces = try delimitedMany(.amp) { (p: inout Parser) throws(GraphQLError) in try p.name().0 }
            }
            def.directives = try directives(isConst: true)
            def.fields = try optionalMany(.braceL, .braceR) { (p: inout Parser) throws(GraphQLError) in try p.fieldDefinition() }
        case .union:
            def.directives = try directives(isConst: true)
            if try expectOptional(.equals) {
                def.unionMembers = try delimitedMany(.pipe) { (p: inout Parser) throws(GraphQLError) in try p.name().0 }
            }
        case .enumeration:
            def.directives = try directives(isConst: true)
            def.enumValues = try optionalMany(.braceL, .braceR) { (p: inout Parser) throws(GraphQLError) in
                let start = p.token.location
                let d = try p.description()
                let t = p.token
                if t.kind == .name, ["true", "false", "null"].contains(t.value ?? "") {
                    throw p.syntaxError("\(t.description) is reserved and cannot be used for an enum value.", t.location)
                }
                let (v, _) = try p.name()
                return EnumValueDefinitionNode(description: d, name: v, directives: try p.directives(isConst: true), location: start)
            }
        case .inputObject:
            def.directives = try directives(isConst: true)
            def.inputFields = try optionalMany(.braceL, .braceR) { (p: inout Parser) throws(GraphQLError) in try p.inputValueDefinition() }
        }
        if isExtension && def.directives.isEmpty && def.fields.isEmpty && def.interfaces.isEmpty && def.unionMembers.isEmpty
            && def.enumValues.isEmpty && def.inputFields.isEmpty {
            throw unexpected()
        }
        return def
    }

    private mutating func fieldDefinition() throws(GraphQLError) -> FieldDefinitionNode {
        let start = token.location
        let desc = try description()
        let (n, _) = try name()
        let args = try optionalMany(.parenL, .parenR) { (p: inout Parser) throws(GraphQLError) in try p.inputValueDefinition() }
        try expect(.colon)
        let type = try typeReference()
        return FieldDefinitionNode(description: desc, name: n, arguments: args, type: type, directives: try directives(isConst: true), location: start)
    }

    private mutating func inputValueDefinition() throws(GraphQLError) -> InputValueDefinitionNode {
        let start = token.location
        let desc = try description()
        let (n, _) = try name()
        try expect(.colon)
        let type = try typeReference()
        let def = try expectOptional(.equals) ? try value(isConst: true) : nil
        return InputValueDefinitionNode(description: desc, name: n, type: type, defaultValue: def,
                                        directives: try directives(isConst: true), location: start)
    }

    static let directiveLocations: Set<String> = [
        "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD", "INLINE_FRAGMENT", "VARIABLE_DEFINITION",
        "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE", "UNION", "ENUM", "ENUM_VALUE",
        "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
    ]

    private mutating func directiveDefinition(_ desc: String?, _ start: SourceLocation) throws(GraphQLError) -> DirectiveDefinitionNode {
        try expectKeyword("directive")
        try expect(.at)
        let (n, _) = try name()
        let args = try optionalMany(.parenL, .parenR) { (p: inout Parser) throws(GraphQLError) in try p.inputValueDefinition() }
        let repeatable = try expectOptionalKeyword("repeatable")
        try expectKeyword("on")
        let locs = try delimitedMany(.pipe) { (p: inout Parser) throws(GraphQLError) -> String in
            let t = p.token
            let (l, _) = try p.name()
            guard Parser.directiveLocations.contains(l) else { throw p.unexpected(t) }
            return l
        }
        return DirectiveDefinitionNode(description: desc, name: n, arguments: args, isRepeatable: repeatable, locations: locs, location: start)
    }
}
