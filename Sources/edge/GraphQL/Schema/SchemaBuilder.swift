/// Builds a `Schema` from SDL text plus the coercion rules of its custom scalars, and
/// checks that the definitions hang together (every referenced type exists, fields have
/// output types, arguments input types, interfaces are implemented), so a mistake in the
/// schema text fails at start-up with a located message rather than at query time.
public enum SchemaBuilder {
    public static func build(sdl: String, scalars: [String: ScalarCoercion] = [:]) throws(GraphQLError) -> Schema {
        let builtIns = try Parser.parse(BuiltInSDL.text)
        let doc = try Parser.parse(sdl)

        var types = [String: NamedType]()
        var order = [String]()
        var directives = [DirectiveDefinition]()
        var schemaDef: SchemaDefinitionNode? = nil
        var extensions = [TypeDefinitionNode]()

        func add(_ definitions: [DefinitionNode], builtIn: Bool) throws(GraphQLError) {
            for d in definitions {
                switch d {
                case .type(let t) where t.isExtension:
                    extensions.append(t)
                case .type(let t):
                    guard types[t.name] == nil else { throw GraphQLError("There can be only one type named \"\(t.name)\".", locations: [t.location]) }
                    var nt = namedType(t)
                    nt.isBuiltIn = builtIn
                    types[t.name] = nt
                    order.append(t.name)
                case .directive(let dd):
                    guard !directives.contains(where: { $0.name == dd.name }) else {
                        throw GraphQLError("There can be only one directive named \"@\(dd.name)\".", locations: [dd.location])
                    }
                    directives.append(DirectiveDefinition(name: dd.name, description: dd.description, arguments: dd.arguments.map(inputValue),
                                                          locations: dd.locations, isRepeatable: dd.isRepeatable, isBuiltIn: builtIn))
                case .schema(let s):
                    guard !s.isExtension, schemaDef == nil else { throw GraphQLError("Must provide only one schema definition.", locations: [s.location]) }
                    schemaDef = s
                case .operation(let o):
                    throw GraphQLError("Schema text may not contain operations.", locations: [o.location])
                case .fragment(let f):
                    throw GraphQLError("Schema text may not contain fragments.", locations: [f.location])
                }
            }
        }
        try add(doc.definitions, builtIn: false)
        try add(builtIns.definitions, builtIn: true)

        for e in extensions {
            guard var t = types[e.name], t.kind == namedType(e).kind else {
                throw GraphQLError("Cannot extend type \"\(e.name)\" because it is not defined as a \(e.kind.rawValue).", locations: [e.location])
            }
            let ext = namedType(e)
            t.fields += ext.fields; t.interfaces += ext.interfaces; t.unionMembers += ext.unionMembers
            t.enumValues += ext.enumValues; t.inputFields += ext.inputFields
            if t.specifiedByURL == nil { t.specifiedByURL = ext.specifiedByURL }
            types[e.name] = t
        }

        var query = types["Query"] != nil ? "Query" : nil
        var mutation = types["Mutation"] != nil ? "Mutation" : nil
        var subscription = types["Subscription"] != nil ? "Subscription" : nil
        if let s = schemaDef {
            query = nil; mutation = nil; subscription = nil
            for (op, name) in s.operationTypes {
                switch op {
                case .query: query = name
                case .mutation: mutation = name
                case .subscription: subscription = name
                }
            }
        }
        guard let query else { throw GraphQLError("Query root type must be provided.") }
        for root in [query, mutation, subscription].compactMap({ $0 }) where types[root]?.kind != .object {
            throw GraphQLError("Root type \"\(root)\" must be a defined object type.", locations: schemaDef.map { [$0.location] } ?? [])
        }

        var coercions = ScalarCoercion.builtIn
        for (name, t) in types where t.kind == .scalar && coercions[name] == nil {
            coercions[name] = scalars[name] ?? .passThrough
        }
        let schema = Schema(description: schemaDef?.description, types: types, typeNames: order, queryType: query, mutationType: mutation,
                            subscriptionType: subscription, directives: directives, scalars: coercions)
        try check(schema)
        return schema
    }

    private static func deprecation(_ directives: [DirectiveNode]) -> String? {
        guard let d = directives.first(where: { $0.name == "deprecated" }) else { return nil }
        if let arg = d.arguments.first(where: { $0.name == "reason" }), case .string(let s) = arg.value.kind { return s }
        return "No longer supported"
    }

    private static func inputValue(_ n: InputValueDefinitionNode) -> InputValueDefinition {
        InputValueDefinition(name: n.name, description: n.description, type: TypeRef(n.type), defaultValue: n.defaultValue,
                             deprecationReason: deprecation(n.directives))
    }

    private static func namedType(_ t: TypeDefinitionNode) -> NamedType {
        let kind: TypeKind
        switch t.kind {
        case .scalar: kind = .scalar
        case .object: kind = .object
        case .interface: kind = .interface
        case .union: kind = .union
        case .enumeration: kind = .enumeration
        case .inputObject: kind = .inputObject
        }
        var nt = NamedType(kind: kind, name: t.name, description: t.description)
        nt.fields = t.fields.map {
            FieldDefinition(name: $0.name, description: $0.description, arguments: $0.arguments.map(inputValue), type: TypeRef($0.type),
                            deprecationReason: deprecation($0.directives))
        }
        nt.interfaces = t.interfaces
        nt.unionMembers = t.unionMembers
        nt.enumValues = t.enumValues.map { EnumValueDefinition(name: $0.name, description: $0.description, deprecationReason: deprecation($0.directives)) }
        nt.inputFields = t.inputFields.map(inputValue)
        if let sb = t.directives.first(where: { $0.name == "specifiedBy" }), let url = sb.arguments.first(where: { $0.name == "url" }),
           case .string(let s) = url.value.kind {
            nt.specifiedByURL = s
        }
        return nt
    }

    /// The schema validation rules that matter for a hand-written schema.
    private static func check(_ schema: Schema) throws(GraphQLError) {
        func known(_ ref: TypeRef, _ context: String) throws(GraphQLError) -> NamedType {
            guard let t = schema[ref.namedType] else { throw GraphQLError("Unknown type \"\(ref.namedType)\" in \(context).") }
            return t
        }
        for name in schema.typeNames {
            guard let t = schema[name] else { continue }
            if t.kind == .object || t.kind == .interface {
                if t.fields.isEmpty { throw GraphQLError("Type \(name) must define one or more fields.") }
                var seen = Set<String>()
                for f in t.fields {
                    guard seen.insert(f.name).inserted else { throw GraphQLError("Field \"\(name).\(f.name)\" can only be defined once.") }
                    guard try known(f.type, "\(name).\(f.name)").kind != .inputObject else {
                        throw GraphQLError("The type of \(name).\(f.name) must be Output Type but got: \(f.type).")
                    }
                    for a in f.arguments where try !known(a.type, "\(name).\(f.name)(\(a.name):)").isInput {
                        throw GraphQLError("The type of \(name).\(f.name)(\(a.name):) must be Input Type but got: \(a.type).")
                    }
                }
                for i in t.interfaces {
                    guard let it = schema[i], it.kind == .interface else {
                        throw GraphQLError("Type \(name) must only implement Interface types, it cannot implement \(i).")
                    }
                    for f in it.fields where t.field(f.name) == nil {
                        throw GraphQLError("Interface field \(i).\(f.name) expected but \(name) does not provide it.")
                    }
                }
            }
            if t.kind == .union {
                for m in t.unionMembers where schema[m]?.kind != .object {
                    throw GraphQLError("Union type \(name) can only include Object types, it cannot include \(m).")
                }
            }
            if t.kind == .inputObject {
                for f in t.inputFields where try !known(f.type, "\(name).\(f.name)").isInput {
                    throw GraphQLError("The type of \(name).\(f.name) must be Input Type but got: \(f.type).")
                }
            }
        }
    }
}
