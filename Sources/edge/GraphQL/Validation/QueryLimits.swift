import Chain

/// Depth and cost limits, checked after variables are known and before anything runs,
/// so an expensive query is refused whole instead of timing out half way.
///
/// Depth counts nested field levels. Cost counts every field once per item of the lists
/// above it: a field returning a list multiplies the cost of its selections by the list's
/// expected size (`multiplier`, e.g. the block range of `blocks(from, to)`). Introspection
/// (`__schema`, `__type`) is bounded by the schema itself and counts as one field.
public struct GraphQLLimits: Sendable {
    public var maxDepth: Int
    public var maxCost: Int
    /// Expected size of a list whose length the arguments do not say (transactions, logs).
    public var assumedListSize: Int
    /// Most logs one `logs` field may return (more is an error naming logsPage).
    public var maxLogs: Int
    /// Largest `first` for the *Page fields.
    public var maxPageSize: Int
    /// Largest query text accepted, in bytes.
    public var maxQueryBytes: Int

    public init(maxDepth: Int = 12, maxCost: Int = 100_000, assumedListSize: Int = 50, maxLogs: Int = 10_000,
                maxPageSize: Int = 1_000, maxQueryBytes: Int = 256 * 1024) {
        self.maxDepth = maxDepth; self.maxCost = maxCost; self.assumedListSize = assumedListSize
        self.maxLogs = maxLogs; self.maxPageSize = maxPageSize; self.maxQueryBytes = maxQueryBytes
    }
}

final class QueryLimits {
    /// For a list-returning field (or a page): how many items to expect, given its coerced
    /// arguments; nil when the arguments do not say.
    typealias Multiplier = (_ parentType: String, _ field: String, _ arguments: [String: JSONValueAlias]) -> Int?
    typealias JSONValueAlias = JSONValue

    let schema: Schema
    let document: DocumentNode
    let variables: [String: JSONValueAlias]
    let limits: GraphQLLimits
    let multiplier: Multiplier
    /// Per fragment, its depth and cost: a fragment spread many times (or in a diamond of
    /// fragments) is measured once, so measuring stays linear in the document.
    private var fragmentDepth = [String: Int]()
    private var fragmentCost = [String: Int]()

    init(schema: Schema, document: DocumentNode, variables: [String: JSONValue], limits: GraphQLLimits, multiplier: @escaping Multiplier) {
        self.schema = schema; self.document = document; self.variables = variables; self.limits = limits; self.multiplier = multiplier
        for f in document.fragments where fragments[f.name] == nil { fragments[f.name] = f }
    }
    private var fragments = [String: FragmentDefinitionNode]()

    func check(_ op: OperationDefinitionNode) -> GraphQLError? {
        guard let root = schema.rootType(op.operation) else { return nil }
        let d = depth(op.selectionSet)
        if d > limits.maxDepth {
            return GraphQLError("Query depth \(d) exceeds the limit of \(limits.maxDepth).", locations: [op.location])
        }
        let c = cost(op.selectionSet, root)
        if c > limits.maxCost {
            return GraphQLError("Query cost \(c) exceeds the limit of \(limits.maxCost) (each field counts once per item of the lists above it; "
                                + "a block range counts its length; lists of unknown length count \(limits.assumedListSize)).",
                                locations: [op.location])
        }
        return nil
    }

    /// Validation has rejected fragment cycles before limits are checked.
    private func depth(_ set: SelectionSetNode) -> Int {
        var best = 0
        for sel in set.selections {
            switch sel {
            case .field(let f):
                if f.name.hasPrefix("__") { best = max(best, 1); continue }
                best = max(best, 1 + (f.selectionSet.map { depth($0) } ?? 0))
            case .inlineFragment(let i):
                best = max(best, depth(i.selectionSet))
            case .fragmentSpread(let s):
                guard let f = fragments[s.name] else { continue }
                if fragmentDepth[s.name] == nil { fragmentDepth[s.name] = depth(f.selectionSet) }
                best = max(best, fragmentDepth[s.name] ?? 0)
            }
        }
        return best
    }

    /// Saturating, so absurd ranges compare as "too expensive" instead of overflowing.
    private func cost(_ set: SelectionSetNode, _ parent: String) -> Int {
        var total = 0
        for sel in set.selections {
            switch sel {
            case .field(let f):
                total = add(total, 1)
                guard !f.name.hasPrefix("__"), let sub = f.selectionSet, let def = schema.field(parent, f.name) else { continue }
                let args = (try? InputCoercion(schema: schema).arguments(def.arguments, f.arguments, variables, at: f.location)) ?? [:]
                var isList = false
                if case .list = def.type.nullable { isList = true }
                // The multiplier may also apply to an object field (a page of `first` items).
                let m = multiplier(parent, f.name, args) ?? (isList ? limits.assumedListSize : 1)
                total = add(total, mul(max(m, 0), cost(sub, def.type.namedType)))
            case .inlineFragment(let i):
                total = add(total, cost(i.selectionSet, i.typeCondition ?? parent))
            case .fragmentSpread(let s):
                guard let f = fragments[s.name] else { continue }
                if fragmentCost[s.name] == nil { fragmentCost[s.name] = cost(f.selectionSet, f.typeCondition) }
                total = add(total, fragmentCost[s.name] ?? 0)
            }
        }
        return total
    }

    private func add(_ a: Int, _ b: Int) -> Int { let (r, o) = a.addingReportingOverflow(b); return o ? .max : r }
    private func mul(_ a: Int, _ b: Int) -> Int { let (r, o) = a.multipliedReportingOverflow(by: b); return o ? .max : r }
}
