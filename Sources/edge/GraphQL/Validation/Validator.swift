/// Document validation (spec §5) against a schema. Messages and locations follow
/// graphql-js/graphql-core so clients see familiar errors (the tests compare them with
/// graphql-core's). One walk over each operation and fragment applies the per-node rules;
/// document-wide rules (names, unused/cyclic fragments, variables) run around it.
///
/// Rules: ExecutableDefinitions, UniqueOperationNames, LoneAnonymousOperation,
/// KnownTypeNames, FragmentsOnCompositeTypes, VariablesAreInputTypes, ScalarLeafs,
/// FieldsOnCorrectType, UniqueFragmentNames, KnownFragmentNames, NoUnusedFragments,
/// PossibleFragmentSpreads, NoFragmentCycles, UniqueVariableNames, NoUndefinedVariables,
/// NoUnusedVariables, KnownDirectives, UniqueDirectivesPerLocation, KnownArgumentNames,
/// UniqueArgumentNames, ValuesOfCorrectType, ProvidedRequiredArguments,
/// VariablesInAllowedPosition, UniqueInputFieldNames, plus a supported-operation check.
/// Not implemented: OverlappingFieldsCanBeMerged (executing merges same-key fields).
public struct Validator {
    /// More fragment definitions than this is refused outright: it bounds every walk that
    /// follows fragment spreads.
    public static let maxFragments = 500

    let schema: Schema
    let document: DocumentNode
    private var errors = [GraphQLError]()
    private var fragments = [String: FragmentDefinitionNode]()
    private let coercion: InputCoercion

    public static func validate(_ document: DocumentNode, against schema: Schema) -> [GraphQLError] {
        var v = Validator(schema: schema, document: document)
        v.run()
        return v.errors
    }

    private init(schema: Schema, document: DocumentNode) {
        self.schema = schema
        self.document = document
        coercion = InputCoercion(schema: schema)
        for f in document.fragments where fragments[f.name] == nil { fragments[f.name] = f }
    }

    private mutating func report(_ message: String, _ locations: [SourceLocation]) {
        errors.append(GraphQLError(message, locations: locations))
    }

    /// A variable used somewhere, with the type its position expects.
    private struct Usage {
        var name: String
        var location: SourceLocation
        var expected: TypeRef?
        var positionHasDefault: Bool
    }

    private mutating func run() {
        if document.fragments.count > Self.maxFragments {
            report("The document defines more than \(Self.maxFragments) fragments.", [])
            return
        }
        // Before any rule that follows spreads: those walks recurse once per level.
        if let (location, depth) = SpreadNesting.firstTooDeep(document) {
            report("Selections nest \(depth) levels deep through fragment spreads, more than the limit of \(SpreadNesting.maxDepth).", [location])
            return
        }
        documentRules()
        for op in document.operations { operation(op) }
        for f in document.fragments { fragmentDefinition(f) }
    }

    // MARK: document-wide rules

    private mutating func documentRules() {
        for d in document.definitions {
            switch d {
            case .schema: report("The schema definition is not executable.", [d.location])
            case .type(let t): report("The \(quoted(t.name)) definition is not executable.", [d.location])
            case .directive(let dd): report("The \(quoted(dd.name)) definition is not executable.", [d.location])
            default: break
            }
        }
        let ops = document.operations
        var opNames = [String: SourceLocation]()
        for op in ops {
            guard let n = op.name, let loc = op.nameLocation else { continue }
            if let first = opNames[n] { report("There can be only one operation named \(quoted(n)).", [first, loc]) } else { opNames[n] = loc }
        }
        if ops.count > 1 {
            for op in ops where op.name == nil { report("This anonymous operation must be the only defined operation.", [op.location]) }
        }
        var fragNames = [String: SourceLocation]()
        for f in document.fragments {
            if let first = fragNames[f.name] { report("There can be only one fragment named \(quoted(f.name)).", [first, f.nameLocation]) } else { fragNames[f.name] = f.nameLocation }
        }
        // NoUnusedFragments: reachable from some operation through spreads.
        var used = Set<String>()
        var work = ops.flatMap { Self.spreads(in: $0.selectionSet) }.map(\.name)
        while let n = work.popLast() {
            guard used.insert(n).inserted, let f = fragments[n] else { continue }
            work += Self.spreads(in: f.selectionSet).map(\.name)
        }
        for f in document.fragments where !used.contains(f.name) { report("Fragment \(quoted(f.name)) is never used.", [f.location]) }
        fragmentCycles()
    }

    /// Fragment spreads directly in a selection set (not inside other fragments).
    static func spreads(in set: SelectionSetNode) -> [FragmentSpreadNode] {
        var out = [FragmentSpreadNode]()
        var stack = [set]
        while let s = stack.popLast() {
            for sel in s.selections.reversed() {
                switch sel {
                case .field(let f): if let sub = f.selectionSet { stack.append(sub) }
                case .inlineFragment(let i): stack.append(i.selectionSet)
                case .fragmentSpread(let sp): out.append(sp)
                }
            }
        }
        // The stack visits in a different order than the text; report in text order.
        return out.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
    }

    private mutating func fragmentCycles() {
        var visited = Set<String>()
        var path = [FragmentSpreadNode]()
        var indexByName = [String: Int]()
        func detect(_ f: FragmentDefinitionNode, _ v: inout Validator) {
            guard visited.insert(f.name).inserted else { return }
            let spreads = Self.spreads(in: f.selectionSet)
            guard !spreads.isEmpty else { return }
            indexByName[f.name] = path.count
            for s in spreads {
                path.append(s)
                if let cycleStart = indexByName[s.name] {
                    let cycle = Array(path[cycleStart...])
                    let via = cycle.dropLast().map { "\(quoted($0.name))" }.joined(separator: ", ")
                    v.report("Cannot spread fragment \(quoted(s.name)) within itself" + (via.isEmpty ? "." : " via \(via)."), cycle.map(\.location))
                } else if let next = v.fragments[s.name] {
                    detect(next, &v)
                }
                path.removeLast()
            }
            indexByName[f.name] = nil
        }
        for f in document.fragments { detect(f, &self) }
    }

    // MARK: operations and fragments

    private mutating func operation(_ op: OperationDefinitionNode) {
        let rootName = schema.rootType(op.operation)
        if rootName == nil { report("Schema is not configured to execute \(op.operation.rawValue) operation.", [op.location]) }
        directives(op.directives, at: op.operation.rawValue.uppercased())

        var defined = [String: VariableDefinitionNode]()
        var groups = [String: [SourceLocation]]()
        for def in op.variableDefinitions {
            groups[def.name, default: []].append(def.nameLocation)
            if defined[def.name] == nil { defined[def.name] = def }
            let type = TypeRef(def.type)
            if let t = schema[type.namedType] {
                if !t.isInput { report("Variable \"$\(def.name)\" cannot be non-input type \(quoted(type)).", [def.type.location]) }
                var ignored = [Usage]()
                if let d = def.defaultValue { literal(d, type, usages: &ignored, positionHasDefault: false) }
            } else {
                unknownType(type.namedType, def.type.namedLocation)
            }
            directives(def.directives, at: "VARIABLE_DEFINITION")
        }
        for def in op.variableDefinitions where groups[def.name]?.first == def.nameLocation && (groups[def.name]?.count ?? 0) > 1 {
            report("There can be only one variable named \"$\(def.name)\".", groups[def.name] ?? [])
        }

        var usages = [Usage]()
        selectionSet(op.selectionSet, rootName.flatMap { schema[$0] }, usages: &usages)
        // Variables used inside fragments this operation reaches count as its usages.
        var seen = Set<String>()
        var work = Self.spreads(in: op.selectionSet).map(\.name)
        while let n = work.popLast() {
            guard seen.insert(n).inserted, let f = fragments[n] else { continue }
            var inner = Validator(schema: schema, document: document)
            inner.selectionSet(f.selectionSet, schema[f.typeCondition], usages: &usages)
            work += Self.spreads(in: f.selectionSet).map(\.name)
        }

        let opLabel = op.name.map { " by operation \(quoted($0))" } ?? ""
        var usedNames = Set<String>()
        for u in usages {
            usedNames.insert(u.name)
            guard let def = defined[u.name] else {
                report("Variable \"$\(u.name)\" is not defined\(opLabel).", [u.location, op.location])
                continue
            }
            guard let expected = u.expected, schema[TypeRef(def.type).namedType] != nil else { continue }
            let varType = TypeRef(def.type)
            var ok = schema.isTypeSubType(varType, of: expected)
            if !ok, case .nonNull(let inner) = expected, !varType.isNonNull {
                let hasDefault = def.defaultValue.map { if case .null = $0.kind { return false }; return true } ?? false
                ok = (hasDefault || u.positionHasDefault) && schema.isTypeSubType(varType, of: inner)
            }
            if !ok {
                report("Variable \"$\(u.name)\" of type \(quoted(varType)) used in position expecting type \(quoted(expected)).", [def.location, u.location])
            }
        }
        for def in op.variableDefinitions where !usedNames.contains(def.name) {
            report(op.name.map { "Variable \"$\(def.name)\" is never used in operation \(quoted($0))." } ?? "Variable \"$\(def.name)\" is never used.", [def.location])
        }
    }

    private mutating func fragmentDefinition(_ f: FragmentDefinitionNode) {
        var type: NamedType? = nil
        if let t = schema[f.typeCondition] {
            if t.isComposite { type = t } else {
                report("Fragment \(quoted(f.name)) cannot condition on non composite type \(quoted(f.typeCondition)).", [f.typeConditionLocation])
            }
        } else {
            unknownType(f.typeCondition, f.typeConditionLocation)
        }
        directives(f.directives, at: "FRAGMENT_DEFINITION")
        var ignored = [Usage]()
        selectionSet(f.selectionSet, type, usages: &ignored)
    }

    private mutating func unknownType(_ name: String, _ location: SourceLocation) {
        let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: name, among: schema.typeNames))
        report("Unknown type \(quoted(name)).\(hint)", [location])
    }

    // MARK: selections

    private mutating func selectionSet(_ set: SelectionSetNode, _ parent: NamedType?, usages: inout [Usage]) {
        for sel in set.selections {
            switch sel {
            case .field(let f): field(f, parent, usages: &usages)
            case .inlineFragment(let i):
                directives(i.directives, at: "INLINE_FRAGMENT", usages: &usages)
                var type = parent
                if let cond = i.typeCondition {
                    type = nil
                    if let t = schema[cond] {
                        if t.isComposite {
                            type = t
                            if let p = parent, p.isComposite, !schema.overlap(p.name, t.name) {
                                report("Fragment cannot be spread here as objects of type \(quoted(p.name)) can never be of type \(quoted(t.name)).", [i.location])
                            }
                        } else {
                            report("Fragment cannot condition on non composite type \(quoted(cond)).", [i.typeConditionLocation ?? i.location])
                        }
                    } else {
                        unknownType(cond, i.typeConditionLocation ?? i.location)
                    }
                }
                selectionSet(i.selectionSet, type, usages: &usages)
            case .fragmentSpread(let s):
                directives(s.directives, at: "FRAGMENT_SPREAD", usages: &usages)
                guard let frag = fragments[s.name] else {
                    report("Unknown fragment \(quoted(s.name)).", [s.nameLocation])
                    continue
                }
                if let p = parent, p.isComposite, let ft = schema[frag.typeCondition], ft.isComposite, !schema.overlap(p.name, ft.name) {
                    report("Fragment \(quoted(s.name)) cannot be spread here as objects of type \(quoted(p.name)) can never be of type \(quoted(ft.name)).", [s.location])
                }
            }
        }
    }

    private mutating func field(_ f: FieldNode, _ parent: NamedType?, usages: inout [Usage]) {
        directives(f.directives, at: "FIELD", usages: &usages)
        var def: FieldDefinition? = nil
        if let p = parent {
            def = schema.fieldIncludingMeta(p.name, f.name)
            if def == nil {
                let hint = p.kind == .union ? "" : GraphQLText.didYouMean(GraphQLText.suggestions(for: f.name, among: p.fields.map(\.name)))
                report("Cannot query field \(quoted(f.name)) on type \(quoted(p.name)).\(hint)", [f.location])
            }
        }
        arguments(f.arguments, def?.arguments, usages: &usages) { name in
            let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: name, among: def?.arguments.map(\.name) ?? []))
            return "Unknown argument \(quoted(name)) on field \"\(parent?.name ?? "").\(f.name)\".\(hint)"
        }
        if let def {
            for a in def.arguments where a.type.isNonNull && a.defaultValue == nil && !f.arguments.contains(where: { $0.name == a.name }) {
                report("Field \(quoted(f.name)) argument \(quoted(a.name)) of type \(quoted(a.type)) is required, but it was not provided.", [f.location])
            }
        }
        let type = def.flatMap { schema[$0.type.namedType] }
        if let def, let type {
            if type.isLeaf, let sub = f.selectionSet {
                report("Field \(quoted(f.name)) must not have a selection since type \(quoted(def.type)) has no subfields.", [sub.location])
            } else if type.isComposite, f.selectionSet == nil {
                report("Field \(quoted(f.name)) of type \(quoted(def.type)) must have a selection of subfields. Did you mean \"\(f.name) { ... }\"?", [f.location])
            }
        }
        if let sub = f.selectionSet { selectionSet(sub, type?.isComposite == true ? type : nil, usages: &usages) }
    }

    private mutating func arguments(_ nodes: [ArgumentNode], _ defs: [InputValueDefinition]?, usages: inout [Usage], unknown: (String) -> String) {
        var groups = [String: [SourceLocation]]()
        for a in nodes { groups[a.name, default: []].append(a.location) }
        for a in nodes {
            if let g = groups[a.name], g.count > 1, g.first == a.location { report("There can be only one argument named \(quoted(a.name)).", g) }
            guard let defs else {
                // Unknown field: its argument values still use variables.
                collect(a.value, nil, usages: &usages, positionHasDefault: false)
                continue
            }
            if let d = defs.first(where: { $0.name == a.name }) {
                literal(a.value, d.type, usages: &usages, positionHasDefault: d.defaultValue != nil)
            } else {
                report(unknown(a.name), [a.location])
                literal(a.value, nil, usages: &usages, positionHasDefault: false)
            }
        }
    }

    private mutating func directives(_ nodes: [DirectiveNode], at location: String) {
        var ignored = [Usage]()
        directives(nodes, at: location, usages: &ignored)
    }

    private mutating func directives(_ nodes: [DirectiveNode], at location: String, usages: inout [Usage]) {
        var seen = [String: SourceLocation]()
        for d in nodes {
            guard let def = schema.directive(d.name) else {
                report("Unknown directive \"@\(d.name)\".", [d.location])
                continue
            }
            if !def.locations.contains(location) { report("Directive \"@\(d.name)\" may not be used on \(location).", [d.location]) }
            if !def.isRepeatable {
                if let first = seen[d.name] { report("The directive \"@\(d.name)\" can only be used once at this location.", [first, d.location]) } else { seen[d.name] = d.location }
            }
            arguments(d.arguments, def.arguments, usages: &usages) { name in
                let hint = GraphQLText.didYouMean(GraphQLText.suggestions(for: name, among: def.arguments.map(\.name)))
                return "Unknown argument \(quoted(name)) on directive \"@\(d.name)\".\(hint)"
            }
            for a in def.arguments where a.type.isNonNull && a.defaultValue == nil && !d.arguments.contains(where: { $0.name == a.name }) {
                report("Directive \"@\(d.name)\" argument \(quoted(a.name)) of type \(quoted(a.type)) is required, but it was not provided.", [d.location])
            }
        }
    }

    // MARK: values

    /// ValuesOfCorrectType and UniqueInputFieldNames for a literal, collecting the variables
    /// inside it with the types their positions expect.
    private mutating func literal(_ node: ValueNode, _ type: TypeRef?, usages: inout [Usage], positionHasDefault: Bool) {
        if let type {
            var found = [GraphQLError]()
            coercion.checkLiteral(node, type) { found.append($0) }
            errors += found
        }
        collect(node, type, usages: &usages, positionHasDefault: positionHasDefault)
    }

    private mutating func collect(_ node: ValueNode, _ type: TypeRef?, usages: inout [Usage], positionHasDefault: Bool) {
        switch node.kind {
        case .variable(let v):
            usages.append(Usage(name: v, location: node.location, expected: type, positionHasDefault: positionHasDefault))
        case .list(let items):
            var itemType: TypeRef? = nil
            if case .list(let t) = type?.nullable { itemType = t }
            for i in items { collect(i, itemType, usages: &usages, positionHasDefault: false) }
        case .object(let fields):
            var seen = [String: SourceLocation]()
            let t = type.flatMap { schema[$0.namedType] }
            for f in fields {
                if let first = seen[f.name] { report("There can be only one input field named \(quoted(f.name)).", [first, f.location]) } else { seen[f.name] = f.location }
                let def = t?.inputField(f.name)
                collect(f.value, def?.type, usages: &usages, positionHasDefault: def?.defaultValue != nil)
            }
        default:
            break
        }
    }
}

extension TypeNode {
    /// Where the named type inside the reference is written.
    var namedLocation: SourceLocation {
        switch self {
        case .named(_, let l): return l
        case .list(let t, _), .nonNull(let t, _): return t.namedLocation
        }
    }
}
