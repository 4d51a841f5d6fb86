/// How deep selection sets nest once fragment spreads are followed. The parser caps nesting
/// within one definition, but a chain of fragments — each spreading the next inside its own
/// nested selections — multiplies it: 480 fragments of 45 levels each fit in a 256 KB query and
/// overflowed an 8 MiB worker stack in the walks that follow spreads (validation rules, limits,
/// execution). This measures every definition without recursing across fragments (each
/// fragment's own nesting is already bounded by the parser), so it is safe to run first.
struct SpreadNesting {
    /// Deepest nesting, counting every selection set (a spread fragment's included), allowed in an
    /// operation; the same budget as the parser's own nesting limit.
    static let maxDepth = Parser.defaultMaxNesting

    /// Per definition: its own deepest selection-set nesting, and each spread with the nesting at which it occurs.
    private struct Local {
        var depth = 0
        var spreads: [(name: String, at: Int)] = []
    }

    private static func local(_ set: SelectionSetNode, _ level: Int, into out: inout Local) {
        out.depth = max(out.depth, level)
        for sel in set.selections {
            switch sel {
            case .field(let f): if let s = f.selectionSet { local(s, level + 1, into: &out) }
            case .inlineFragment(let i): local(i.selectionSet, level + 1, into: &out)
            case .fragmentSpread(let s): out.spreads.append((s.name, level))
            }
        }
    }

    /// The first definition (operations first) whose nesting through fragments exceeds
    /// `maxDepth`: its location and that depth.
    static func firstTooDeep(_ document: DocumentNode) -> (SourceLocation, Int)? {
        var locals = [String: Local]()
        for f in document.fragments where locals[f.name] == nil {
            var l = Local()
            local(f.selectionSet, 1, into: &l)
            locals[f.name] = l
        }
        // Effective depth of each fragment, by an explicit-stack depth-first walk. A spread back
        // into a fragment still being measured is a cycle (NoFragmentCycles reports it); it adds nothing here.
        var effective = [String: Int]()
        var inProgress = Set<String>()
        func measure(_ root: String) {
            guard effective[root] == nil, locals[root] != nil else { return }
            var stack: [(name: String, next: Int)] = [(root, 0)]
            inProgress.insert(root)
            while let top = stack.last {
                let l = locals[top.name]!
                if top.next < l.spreads.count {
                    stack[stack.count - 1].next += 1
                    let child = l.spreads[top.next].name
                    if effective[child] == nil, locals[child] != nil, !inProgress.contains(child) {
                        inProgress.insert(child)
                        stack.append((child, 0))
                    }
                    continue
                }
                var d = l.depth
                for s in l.spreads { d = max(d, s.at + (effective[s.name] ?? 0)) }
                effective[top.name] = d
                inProgress.remove(top.name)
                stack.removeLast()
            }
        }
        for name in locals.keys { measure(name) }
        for op in document.operations {
            var l = Local()
            local(op.selectionSet, 1, into: &l)
            var d = l.depth
            for s in l.spreads { d = max(d, s.at + (effective[s.name] ?? 0)) }
            if d > maxDepth { return (op.location, d) }
        }
        // Fragment definitions are walked too, used or not.
        for f in document.fragments { if let d = effective[f.name], d > maxDepth { return (f.location, d) } }
        return nil
    }
}
