import Chain

/// Resolvers of the introspection types (spec §4.2): views over the `Schema` data.

struct SchemaIntrospection: ObjectValue {
    let schema: Schema
    var typeName: String { "__Schema" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "description": return .string(schema.description)
        case "types": return .list(schema.typeNames.map { .object(TypeIntrospection(schema: schema, ref: .named($0))) })
        case "queryType": return .object(TypeIntrospection(schema: schema, ref: .named(schema.queryType)))
        case "mutationType": return schema.mutationType.map { .object(TypeIntrospection(schema: schema, ref: .named($0))) } ?? .null
        case "subscriptionType": return schema.subscriptionType.map { .object(TypeIntrospection(schema: schema, ref: .named($0))) } ?? .null
        case "directives": return .list(schema.directives.map { .object(DirectiveIntrospection(schema: schema, directive: $0)) })
        default: return .null
        }
    }
}

struct TypeIntrospection: ObjectValue {
    let schema: Schema
    let ref: TypeRef
    var typeName: String { "__Type" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        let includeDeprecated = arguments.bool("includeDeprecated") ?? false
        switch ref {
        case .list(let inner), .nonNull(let inner):
            switch field {
            case "kind": return .string(ref.isNonNull ? TypeKind.nonNull.rawValue : TypeKind.list.rawValue)
            case "ofType": return .object(TypeIntrospection(schema: schema, ref: inner))
            default: return .null
            }
        case .named(let name):
            guard let t = schema[name] else { return .null }
            switch field {
            case "kind": return .string(t.kind.rawValue)
            case "name": return .string(t.name)
            case "description": return .string(t.description)
            case "specifiedByURL": return t.kind == .scalar ? .string(t.specifiedByURL) : .null
            case "fields":
                guard t.kind == .object || t.kind == .interface else { return .null }
                return .list(t.fields.filter { includeDeprecated || $0.deprecationReason == nil }.map { .object(FieldIntrospection(schema: schema, field: $0)) })
            case "interfaces":
                guard t.kind == .object || t.kind == .interface else { return .null }
                return .list(t.interfaces.map { .object(TypeIntrospection(schema: schema, ref: .named($0))) })
            case "possibleTypes":
                guard t.isAbstract else { return .null }
                let names = t.kind == .union ? t.unionMembers : schema.typeNames.filter { schema.possibleTypes(t.name).contains($0) }
                return .list(names.map { .object(TypeIntrospection(schema: schema, ref: .named($0))) })
            case "enumValues":
                guard t.kind == .enumeration else { return .null }
                return .list(t.enumValues.filter { includeDeprecated || $0.deprecationReason == nil }.map { .object(EnumValueIntrospection(value: $0)) })
            case "inputFields":
                guard t.kind == .inputObject else { return .null }
                return .list(t.inputFields.filter { includeDeprecated || $0.deprecationReason == nil }.map { .object(InputValueIntrospection(schema: schema, value: $0)) })
            case "isOneOf": return t.kind == .inputObject ? .bool(false) : .null
            default: return .null
            }
        }
    }
}

struct FieldIntrospection: ObjectValue {
    let schema: Schema
    let field: FieldDefinition
    var typeName: String { "__Field" }

    func resolve(field name: String, arguments: Arguments) throws -> Resolved {
        switch name {
        case "name": return .string(field.name)
        case "description": return .string(field.description)
        case "args":
            let includeDeprecated = arguments.bool("includeDeprecated") ?? false
            return .list(field.arguments.filter { includeDeprecated || $0.deprecationReason == nil }.map { .object(InputValueIntrospection(schema: schema, value: $0)) })
        case "type": return .object(TypeIntrospection(schema: schema, ref: field.type))
        case "isDeprecated": return .bool(field.deprecationReason != nil)
        case "deprecationReason": return .string(field.deprecationReason)
        default: return .null
        }
    }
}

struct InputValueIntrospection: ObjectValue {
    let schema: Schema
    let value: InputValueDefinition
    var typeName: String { "__InputValue" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "name": return .string(value.name)
        case "description": return .string(value.description)
        case "type": return .object(TypeIntrospection(schema: schema, ref: value.type))
        case "defaultValue": return .string(value.defaultValue?.description)
        case "isDeprecated": return .bool(value.deprecationReason != nil)
        case "deprecationReason": return .string(value.deprecationReason)
        default: return .null
        }
    }
}

struct EnumValueIntrospection: ObjectValue {
    let value: EnumValueDefinition
    var typeName: String { "__EnumValue" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "name": return .string(value.name)
        case "description": return .string(value.description)
        case "isDeprecated": return .bool(value.deprecationReason != nil)
        case "deprecationReason": return .string(value.deprecationReason)
        default: return .null
        }
    }
}

struct DirectiveIntrospection: ObjectValue {
    let schema: Schema
    let directive: DirectiveDefinition
    var typeName: String { "__Directive" }

    func resolve(field: String, arguments: Arguments) throws -> Resolved {
        switch field {
        case "name": return .string(directive.name)
        case "description": return .string(directive.description)
        case "isRepeatable": return .bool(directive.isRepeatable)
        case "locations": return .list(directive.locations.map { .leaf(.string($0)) })
        case "args":
            let includeDeprecated = arguments.bool("includeDeprecated") ?? false
            return .list(directive.arguments.filter { includeDeprecated || $0.deprecationReason == nil }.map { .object(InputValueIntrospection(schema: schema, value: $0)) })
        default: return .null
        }
    }
}
