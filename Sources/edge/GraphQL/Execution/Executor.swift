import Chain

/// Executes one validated operation (spec §6): collects fields (fragments, @skip/@include),
/// resolves them in order, completes values against their declared types, and turns
/// failures into field errors with a response path. A null in a non-null position
/// propagates to the nearest nullable parent, as §6.4.4 requires.
final class Executor {
    let schema: Schema
    let variables: [String: JSONValue]
    private let fragments: [String: FragmentDefinitionNode]
    private let coercion: InputCoercion
    private(set) var errors = [GraphQLError]()

    /// Thrown upward when a non-null position got null; caught at the nearest nullable one.
    private struct NullPropagation: Error {}

    init(schema: Schema, document: DocumentNode, variables: [String: JSONValue]) {
        self.schema = schema
        self.variables = variables
        var f = [String: FragmentDefinitionNode]()
        for d in document.fragments where f[d.name] == nil { f[d.name] = d }
        fragments = f
        coercion = InputCoercion(schema: schema)
    }

    /// The `data` of the response: an object, or null when a root field's null propagated.
    func execute(_ op: OperationDefinitionNode, root: any ObjectValue) -> JSONValue {
        guard let rootName = schema.rootType(op.operation), let rootType = schema[rootName] else {
            errors.append(GraphQLError("Schema is not configured to execute \(op.operation.rawValue) operation.", locations: [op.location]))
            return .null
        }
        do { return try selectionSet(op.selectionSet, rootType, root, path: []) } catch { return .null }
    }

    // MARK: fields

    private func selectionSet(_ set: SelectionSetNode, _ type: NamedType, _ value: any ObjectValue, path: [PathComponent]) throws(NullPropagation) -> JSONValue {
        var out = JSONObject()
        for (key, nodes) in collectFields(type, [set]) {
            out[key] = try field(type, value, nodes, path: path + [.key(key)])
        }
        return .object(out)
    }

    /// Groups the selections that apply to `type` by response key, in document order.
    private func collectFields(_ type: NamedType, _ sets: [SelectionSetNode]) -> [(String, [FieldNode])] {
        var order = [String]()
        var groups = [String: [FieldNode]]()
        var visitedFragments = Set<String>()
        func visit(_ set: SelectionSetNode) {
            for sel in set.selections where included(sel.directives) {
                switch sel {
                case .field(let f):
                    if groups[f.responseKey] == nil { order.append(f.responseKey) }
                    groups[f.responseKey, default: []].append(f)
                case .inlineFragment(let i):
                    if let cond = i.typeCondition, !applies(cond, to: type) { continue }
                    visit(i.selectionSet)
                case .fragmentSpread(let s):
                    guard visitedFragments.insert(s.name).inserted, let frag = fragments[s.name], applies(frag.typeCondition, to: type) else { continue }
                    visit(frag.selectionSet)
                }
            }
        }
        for s in sets { visit(s) }
        return order.map { ($0, groups[$0] ?? []) }
    }

    private func applies(_ condition: String, to type: NamedType) -> Bool {
        condition == type.name || schema.possibleTypes(condition).contains(type.name)
    }

    /// @skip and @include (spec §3.13).
    private func included(_ directives: [DirectiveNode]) -> Bool {
        for d in directives where d.name == "skip" || d.name == "include" {
            guard let def = schema.directive(d.name),
                  let args = try? coercion.arguments(def.arguments, d.arguments, variables, at: d.location),
                  let cond = args["if"]?.boolValue else { continue }
            if d.name == "skip" && cond { return false }
            if d.name == "include" && !cond { return false }
        }
        return true
    }

    private func field(_ parent: NamedType, _ value: any ObjectValue, _ nodes: [FieldNode], path: [PathComponent]) throws(NullPropagation) -> JSONValue {
        let node = nodes[0]
        guard let def = schema.fieldIncludingMeta(parent.name, node.name) else { return .null }
        let resolved: Resolved
        do {
            let args = try coercion.arguments(def.arguments, node.arguments, variables, at: node.location)
            switch node.name {
            case "__typename": resolved = .leaf(.string(value.typeName))
            case "__schema" where parent.name == schema.queryType: resolved = .object(SchemaIntrospection(schema: schema))
            case "__type" where parent.name == schema.queryType:
                resolved = args["name"]?.stringValue.flatMap { schema[$0] }.map { .object(TypeIntrospection(schema: schema, ref: .named($0.name))) } ?? .null
            default: resolved = try value.resolve(field: node.name, arguments: Arguments(args))
            }
        } catch {
            errors.append(GraphQLError(Self.message(error), locations: [node.location], path: path))
            if def.type.isNonNull { throw NullPropagation() }
            return .null
        }
        return try complete(def.type, nodes, resolved, path: path, fieldName: "\(parent.name).\(node.name)")
    }

    static func message(_ error: any Error) -> String {
        if let e = error as? GraphQLError { return e.message }
        return String(describing: error)
    }

    // MARK: value completion

    private func complete(_ type: TypeRef, _ nodes: [FieldNode], _ value: Resolved, path: [PathComponent], fieldName: String) throws(NullPropagation) -> JSONValue {
        if case .nonNull(let inner) = type {
            let v = try completeNullable(inner, nodes, value, path: path, fieldName: fieldName)
            if v == .null {
                if !errorRecorded(at: path) {
                    errors.append(GraphQLError("Cannot return null for non-nullable field \(fieldName).", locations: [nodes[0].location], path: path))
                }
                throw NullPropagation()
            }
            return v
        }
        do { return try completeNullable(type, nodes, value, path: path, fieldName: fieldName) } catch { return .null }
    }

    /// Whether an error for this exact path was already recorded (a failed leaf coercion),
    /// so a propagating null is reported once.
    private func errorRecorded(at path: [PathComponent]) -> Bool { errors.last?.path == path }

    private func completeNullable(_ type: TypeRef, _ nodes: [FieldNode], _ value: Resolved, path: [PathComponent], fieldName: String) throws(NullPropagation) -> JSONValue {
        if case .null = value { return .null }
        switch type {
        case .nonNull:
            return try complete(type, nodes, value, path: path, fieldName: fieldName)
        case .list(let item):
            guard case .list(let items) = value else {
                errors.append(GraphQLError("Expected Iterable, but did not find one for field \"\(fieldName)\".", locations: [nodes[0].location], path: path))
                return .null
            }
            var out = [JSONValue]()
            out.reserveCapacity(items.count)
            for (i, v) in items.enumerated() { out.append(try complete(item, nodes, v, path: path + [.index(i)], fieldName: fieldName)) }
            return .array(out)
        case .named(let name):
            guard let t = schema[name] else { return .null }
            switch (t.kind, value) {
            case (.scalar, .leaf(let v)):
                guard let c = schema.scalars[name] else { return v }
                do { return try c.output(v) } catch {
                    errors.append(GraphQLError(error.standalone ? error.message : "\(name) cannot represent value: \(error.message)",
                                               locations: [nodes[0].location], path: path))
                    return .null
                }
            case (.enumeration, .leaf(let v)):
                guard let s = v.stringValue, t.enumValues.contains(where: { $0.name == s }) else {
                    errors.append(GraphQLError("Enum \"\(name)\" cannot represent value: \(JSON.serialize(v))", locations: [nodes[0].location], path: path))
                    return .null
                }
                return v
            case (.object, .object(let o)), (.interface, .object(let o)), (.union, .object(let o)):
                guard let runtime = schema[o.typeName], runtime.kind == .object, applies(name, to: runtime) else {
                    errors.append(GraphQLError("Abstract type \"\(name)\" must resolve to an Object type at runtime for field \"\(fieldName)\". Got: \"\(o.typeName)\".",
                                               locations: [nodes[0].location], path: path))
                    return .null
                }
                var out = JSONObject()
                for (key, group) in collectFields(runtime, nodes.compactMap(\.selectionSet)) {
                    out[key] = try field(runtime, o, group, path: path + [.key(key)])
                }
                return .object(out)
            default:
                errors.append(GraphQLError("Field \"\(fieldName)\" resolved to a value that does not fit its type \(type).", locations: [nodes[0].location], path: path))
                return .null
            }
        }
    }
}
