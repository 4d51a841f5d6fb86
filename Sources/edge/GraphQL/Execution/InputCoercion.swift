import Chain

/// Input coercion (spec §5.6 values, §6.1.2 variables, §6.4.1 arguments): document
/// literals and JSON variables become canonical JSON values of the expected type —
/// absent stays absent (no key), explicit null is `.null`, and custom scalars hand
/// resolvers their canonical forms (e.g. Long as a decimal number, BigInt as 0x-hex).
struct InputCoercion {
    let schema: Schema

    // MARK: literals

    /// Reports every problem with a literal, in graphql-js's words (the ValuesOfCorrectType
    /// rule). Variables inside are not checked here (VariablesInAllowedPosition does).
    func checkLiteral(_ node: ValueNode, _ type: TypeRef, _ report: (GraphQLError) -> Void) {
        if case .variable = node.kind { return }
        switch type {
        case .nonNull(let inner):
            if case .null = node.kind {
                report(GraphQLError("Expected value of type \(quoted(type)), found \(echo(node.description)).", locations: [node.location]))
                return
            }
            checkLiteral(node, inner, report)
        case .list(let item):
            if case .list(let items) = node.kind { for i in items { checkLiteral(i, item, report) } } else { checkLiteral(node, item, report) }
        case .named(let name):
            if case .null = node.kind { return }
            guard let t = schema[name] else { return }
            switch t.kind {
            case .inputObject:
                guard case .object(let fields) = node.kind else {
                    report(GraphQLError("Expected value of type \(quoted(name)), found \(echo(node.description)).", locations: [node.location]))
                    return
                }
                for def in t.inputFields where def.type.isNonNull && def.defaultValue == nil && !fields.contains(where: { $0.name == def.name }) {
                    report(GraphQLError("Field \"\(name).\(def.name)\" of required type \(quoted(def.type)) was not provided.", locations: [node.location]))
                }
                for f in fields {
                    if let def = t.inputField(f.name) {
                        checkLiteral(f.value, def.type, report)
                    } else {
                        let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: f.name, among: t.inputFields.map(\.name)))
                        report(GraphQLError("Field \(quoted(f.name)) is not defined by type \(quoted(name)).\(hint)", locations: [f.location]))
                    }
                }
            case .enumeration, .scalar:
                do { _ = try leaf(node, t) } catch {
                    report(GraphQLError(error.standalone ? error.message : "Expected value of type \(quoted(name)), found \(echo(node.description))" + (error.message.isEmpty ? "." : "; " + error.message),
                                        locations: [node.location]))
                }
            default:
                return
            }
        }
    }

    private func leaf(_ node: ValueNode, _ t: NamedType) throws(CoercionError) -> JSONValue {
        let scalar: InputScalar
        switch node.kind {
        case .int(let s): scalar = .int(s)
        case .float(let s): scalar = .float(s)
        case .string(let s): scalar = .string(s)
        case .boolean(let b): scalar = .boolean(b)
        case .enumValue(let e): scalar = .enumName(e)
        default:
            if t.kind == .enumeration {
                throw CoercionError("Enum \(quoted(t.name)) cannot represent non-enum value: \(echo(node.description)).", standalone: false)
            }
            throw CoercionError("")
        }
        if t.kind == .enumeration {
            guard case .enumName(let e) = scalar else {
                let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: scalar.printed, among: t.enumValues.map(\.name)), prefix: "the enum value")
                throw CoercionError("Enum \(quoted(t.name)) cannot represent non-enum value: \(echo(node.description)).\(hint)")
            }
            guard t.enumValues.contains(where: { $0.name == e }) else {
                let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: e, among: t.enumValues.map(\.name)), prefix: "the enum value")
                throw CoercionError("Value \(quoted(e)) does not exist in \(quoted(t.name)) enum.\(hint)")
            }
            return .string(e)
        }
        guard let c = schema.scalars[t.name] else { return .null }
        return try c.input(scalar)
    }

    /// The value of a literal for execution (already validated), with variables substituted.
    /// nil means "absent" (an unset variable). Throws only for values validation would reject.
    func literalValue(_ node: ValueNode, _ type: TypeRef, _ variables: [String: JSONValue]) throws(CoercionError) -> JSONValue? {
        if case .variable(let v) = node.kind {
            guard let value = variables[v] else { return nil }
            if type.isNonNull && value == .null { throw CoercionError("Variable \"$\(v)\" is null where a non-null value is required.", standalone: true) }
            return value
        }
        switch type {
        case .nonNull(let inner):
            if case .null = node.kind { throw CoercionError("Expected value of type \(quoted(type)), found null.", standalone: true) }
            return try literalValue(node, inner, variables)
        case .list(let item):
            if case .null = node.kind { return .null }
            if case .list(let items) = node.kind {
                var out = [JSONValue]()
                for i in items { out.append(try literalValue(i, item, variables) ?? .null) }
                return .array(out)
            }
            return .array([try literalValue(node, item, variables) ?? .null])
        case .named(let name):
            if case .null = node.kind { return .null }
            guard let t = schema[name] else { throw CoercionError("Unknown type \(quoted(name)).", standalone: true) }
            if t.kind == .inputObject {
                guard case .object(let fields) = node.kind else { throw CoercionError("Expected value of type \(quoted(name)), found \(echo(node.description)).", standalone: true) }
                var out = JSONObject()
                for def in t.inputFields {
                    if let f = fields.first(where: { $0.name == def.name }), let v = try literalValue(f.value, def.type, variables) {
                        out[def.name] = v
                    } else if let d = def.defaultValue {
                        out[def.name] = try literalValue(d, def.type, [:])
                    } else if def.type.isNonNull {
                        throw CoercionError("Field \"\(name).\(def.name)\" of required type \(quoted(def.type)) was not provided.", standalone: true)
                    }
                }
                return .object(out)
            }
            do { return try leaf(node, t) } catch {
                throw CoercionError(error.standalone ? error.message : "Expected value of type \(quoted(name)), found \(echo(node.description)).", standalone: true)
            }
        }
    }

    // MARK: JSON (variables)

    struct Failure: Error {
        var path: String
        var message: String
    }

    /// Coerces a JSON variable value; `path` names the position inside it for messages.
    func jsonValue(_ value: JSONValue, _ type: TypeRef, path: String = "") throws(Failure) -> JSONValue {
        switch type {
        case .nonNull(let inner):
            if value == .null { throw Failure(path: path, message: "Expected non-nullable type \(quoted(type)) not to be null.") }
            return try jsonValue(value, inner, path: path)
        case .list(let item):
            if value == .null { return .null }
            if case .array(let items) = value {
                var out = [JSONValue]()
                for (i, v) in items.enumerated() { out.append(try jsonValue(v, item, path: path + "[\(i)]")) }
                return .array(out)
            }
            return .array([try jsonValue(value, item, path: path)])
        case .named(let name):
            if value == .null { return .null }
            guard let t = schema[name] else { throw Failure(path: path, message: "Unknown type \(quoted(name)).") }
            switch t.kind {
            case .inputObject:
                guard case .object(let o) = value else { throw Failure(path: path, message: "Expected type \(quoted(name)) to be an object.") }
                var out = JSONObject()
                for def in t.inputFields {
                    if let v = o[def.name] {
                        out[def.name] = try jsonValue(v, def.type, path: path + "." + def.name)
                    } else if let d = def.defaultValue {
                        do { out[def.name] = try literalValue(d, def.type, [:]) } catch { throw Failure(path: path, message: error.message) }
                    } else if def.type.isNonNull {
                        throw Failure(path: path, message: "Field \(quoted(def.name)) of required type \(quoted(def.type)) was not provided.")
                    }
                }
                for k in o.keys where t.inputField(k) == nil {
                    let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: k, among: t.inputFields.map(\.name)))
                    throw Failure(path: path, message: "Field \(quoted(k)) is not defined by type \(quoted(name)).\(hint)")
                }
                return .object(out)
            case .enumeration:
                guard case .string(let s) = value else {
                    throw Failure(path: path, message: "Enum \(quoted(name)) cannot represent non-string value: \(echo(JSON.serialize(value))).")
                }
                guard t.enumValues.contains(where: { $0.name == s }) else {
                    let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: s, among: t.enumValues.map(\.name)), prefix: "the enum value")
                    throw Failure(path: path, message: "Value \(quoted(s)) does not exist in \(quoted(name)) enum.\(hint)")
                }
                return value
            case .scalar:
                guard let scalar = InputScalar(json: value), let c = schema.scalars[name] else {
                    throw Failure(path: path, message: "Expected type \(quoted(name)). \(name) cannot represent a non-scalar value.")
                }
                do { return try c.input(scalar) } catch {
                    throw Failure(path: path, message: error.standalone ? error.message : "Expected type \(quoted(name)). \(error.message)")
                }
            default:
                throw Failure(path: path, message: "Type \(quoted(name)) is not an input type.")
            }
        }
    }

    /// Coerces the request's variables for an operation (spec CoerceVariableValues).
    func variables(_ op: OperationDefinitionNode, _ inputs: JSONObject?) -> Result<[String: JSONValue], GraphQLErrors> {
        var out = [String: JSONValue]()
        var errors = [GraphQLError]()
        for def in op.variableDefinitions {
            let type = TypeRef(def.type)
            guard schema[type.namedType]?.isInput == true else {
                errors.append(GraphQLError("Variable \"$\(def.name)\" expected value of type \(quoted(type)) which cannot be used as an input type.",
                                           locations: [def.location]))
                continue
            }
            guard let provided = inputs?[def.name] else {
                if let d = def.defaultValue {
                    do { if let v = try literalValue(d, type, [:]) { out[def.name] = v } } catch {
                        errors.append(GraphQLError(error.message, locations: [def.location]))
                    }
                } else if type.isNonNull {
                    errors.append(GraphQLError("Variable \"$\(def.name)\" of required type \(quoted(type)) was not provided.", locations: [def.location]))
                }
                continue
            }
            if provided == .null && type.isNonNull {
                errors.append(GraphQLError("Variable \"$\(def.name)\" of non-null type \(quoted(type)) must not be null.", locations: [def.location]))
                continue
            }
            do { out[def.name] = try jsonValue(provided, type) } catch {
                let at = error.path.isEmpty ? "" : " at \"\(def.name)\(error.path)\""
                errors.append(GraphQLError("Variable \"$\(def.name)\" got invalid value \(echo(Self.inspect(provided)))\(at); \(error.message)",
                                           locations: [def.location]))
            }
        }
        return errors.isEmpty ? .success(out) : .failure(GraphQLErrors(errors))
    }

    /// Coerces a field's or directive's arguments (spec CoerceArgumentValues).
    func arguments(_ defs: [InputValueDefinition], _ nodes: [ArgumentNode], _ variables: [String: JSONValue], at location: SourceLocation)
        throws(GraphQLError) -> [String: JSONValue] {
        var out = [String: JSONValue]()
        for def in defs {
            let node = nodes.first { $0.name == def.name }
            var value: JSONValue? = nil
            if let node {
                if case .variable(let v) = node.value.kind, variables[v] == nil {
                    value = nil
                    if def.defaultValue == nil && def.type.isNonNull {
                        throw GraphQLError("Argument \(quoted(def.name)) of required type \(quoted(def.type)) was provided the variable \"$\(v)\" which was not provided a runtime value.",
                                           locations: [node.value.location])
                    }
                } else {
                    do { value = try literalValue(node.value, def.type, variables) } catch {
                        throw GraphQLError("Argument \(quoted(def.name)) has invalid value \(echo(node.value.description)). \(error.message)", locations: [node.value.location])
                    }
                }
            }
            if value == nil, let d = def.defaultValue {
                do { value = try literalValue(d, def.type, [:]) } catch { throw GraphQLError(error.message, locations: [location]) }
            }
            if let value {
                if value == .null && def.type.isNonNull {
                    throw GraphQLError("Argument \(quoted(def.name)) of non-null type \(quoted(def.type)) must not be null.", locations: [node?.value.location ?? location])
                }
                out[def.name] = value
            } else if def.type.isNonNull {
                throw GraphQLError("Argument \(quoted(def.name)) of required type \(quoted(def.type)) was not provided.", locations: [location])
            }
        }
        return out
    }

    /// graphql-js's `inspect` for scalars and a compact form for structures.
    static func inspect(_ v: JSONValue) -> String {
        switch v {
        case .array(let a): return "[" + a.map(inspect).joined(separator: ", ") + "]"
        case .object(let o): return o.count == 0 ? "{}" : "{ " + o.pairs.map { "\($0.0): \(inspect($0.1))" }.joined(separator: ", ") + " }"
        default: return JSON.serialize(v)
        }
    }
}

/// Several errors at once (variable coercion, validation).
struct GraphQLErrors: Error {
    var errors: [GraphQLError]
    init(_ e: [GraphQLError]) { errors = e }
}
