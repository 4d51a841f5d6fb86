/// Prints a schema back as SDL (application types and directives only), the text served
/// to tooling and checked against graphql-core in the tests.
public enum SchemaPrinter {
    public static func print(_ schema: Schema) -> String {
        var blocks = [String]()
        if schema.queryType != "Query" || (schema.mutationType ?? "Mutation") != "Mutation"
            || (schema.subscriptionType ?? "Subscription") != "Subscription" || schema.description != nil {
            var ops = ["  query: \(schema.queryType)"]
            if let m = schema.mutationType { ops.append("  mutation: \(m)") }
            if let s = schema.subscriptionType { ops.append("  subscription: \(s)") }
            blocks.append(description(schema.description, indent: "") + "schema {\n" + ops.joined(separator: "\n") + "\n}")
        }
        for d in schema.directives where !d.isBuiltIn {
            blocks.append(description(d.description, indent: "") + "directive @\(d.name)\(arguments(d.arguments, indent: ""))"
                          + (d.isRepeatable ? " repeatable" : "") + " on " + d.locations.joined(separator: " | "))
        }
        for name in schema.typeNames {
            guard let t = schema[name], !t.isBuiltIn else { continue }
            blocks.append(type(t))
        }
        return blocks.joined(separator: "\n\n") + "\n"
    }

    static func type(_ t: NamedType) -> String {
        let head = description(t.description, indent: "")
        switch t.kind {
        case .scalar:
            return head + "scalar \(t.name)" + (t.specifiedByURL.map { " @specifiedBy(url: \(GraphQLText.quoted($0)))" } ?? "")
        case .object, .interface:
            let keyword = t.kind == .object ? "type" : "interface"
            let impl = t.interfaces.isEmpty ? "" : " implements " + t.interfaces.joined(separator: " & ")
            let fields = t.fields.enumerated().map { i, f in
                description(f.description, indent: "  ", first: i == 0) + "  \(f.name)\(arguments(f.arguments, indent: "  ")): \(f.type)" + deprecated(f.deprecationReason)
            }
            return head + "\(keyword) \(t.name)\(impl) {\n" + fields.joined(separator: "\n") + "\n}"
        case .union:
            return head + "union \(t.name) = " + t.unionMembers.joined(separator: " | ")
        case .enumeration:
            let values = t.enumValues.enumerated().map { i, v in
                description(v.description, indent: "  ", first: i == 0) + "  \(v.name)" + deprecated(v.deprecationReason)
            }
            return head + "enum \(t.name) {\n" + values.joined(separator: "\n") + "\n}"
        case .inputObject:
            let fields = t.inputFields.enumerated().map { i, f in description(f.description, indent: "  ", first: i == 0) + "  " + inputValue(f) }
            return head + "input \(t.name) {\n" + fields.joined(separator: "\n") + "\n}"
        case .list, .nonNull:
            return ""
        }
    }

    static func inputValue(_ v: InputValueDefinition) -> String {
        "\(v.name): \(v.type)" + (v.defaultValue.map { " = \($0)" } ?? "") + deprecated(v.deprecationReason)
    }

    static func arguments(_ args: [InputValueDefinition], indent: String) -> String {
        if args.isEmpty { return "" }
        if args.allSatisfy({ $0.description == nil }) { return "(" + args.map(inputValue).joined(separator: ", ") + ")" }
        let lines = args.enumerated().map { i, a in description(a.description, indent: indent + "  ", first: i == 0) + indent + "  " + inputValue(a) }
        return "(\n" + lines.joined(separator: "\n") + "\n" + indent + ")"
    }

    static func deprecated(_ reason: String?) -> String {
        guard let reason else { return "" }
        return reason == "No longer supported" ? " @deprecated" : " @deprecated(reason: \(GraphQLText.quoted(reason)))"
    }

    static func description(_ d: String?, indent: String, first: Bool = true) -> String {
        guard let d else { return "" }
        let block = BlockString.print(d)
        let indented = block.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : indent + $0 }.joined(separator: "\n")
        return (indent.isEmpty || first ? "" : "\n") + indented + "\n"
    }
}
