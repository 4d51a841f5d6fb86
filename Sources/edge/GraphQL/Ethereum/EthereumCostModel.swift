import Chain

/// How many items the list-like fields of the Ethereum schema return, for the cost limit:
/// ranges and page sizes come from the arguments; connection lists are the page itself.
enum EthereumCostModel {
    static func multiplier(head: (earliest: UInt64, latest: UInt64)?) -> QueryLimits.Multiplier {
        { parent, field, args in
            func long(_ k: String) -> UInt64? { args[k]?.numberText.flatMap { UInt64($0) } }
            func range(_ from: UInt64?, _ to: UInt64?) -> Int {
                guard let from, let to else { return 0 }
                guard to >= from else { return 0 }
                return to - from >= UInt64(Int.max) ? Int.max : Int(to - from) + 1
            }
            switch (parent, field) {
            case ("Query", "blocks"):
                return range(long("from") ?? head?.earliest, long("to") ?? head?.latest)
            case ("Query", "blockStats"):
                // Bounded by what is indexed: the scan stops at the index's ends.
                let from = max(long("from") ?? 0, head?.earliest ?? 0), to = min(long("to") ?? 0, head?.latest ?? 0)
                return max(range(from, to), 1)
            case ("Query", "blocksPage"), ("Query", "logsPage"):
                return args["first"]?.numberText.flatMap { Int($0) }.map { max($0, 0) }
            case ("BlockConnection", _), ("LogConnection", _), ("BlockEdge", _), ("LogEdge", _):
                return 1
            default:
                return nil
            }
        }
    }
}
