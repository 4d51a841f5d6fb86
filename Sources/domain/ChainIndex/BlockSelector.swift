import Chain

/// A block as a request names it: a tag, a number, or a hash. Every read surface (JSON-RPC,
/// GraphQL, REST) parses its own syntax into this and resolves it through `RequestView`, so
/// "latest" or "safe" means the same block on all of them within one snapshot.
public enum BlockSelector: Equatable, Sendable {
    /// `pending` is `latest`: this node has no mempool.
    case latest, pending, safe, finalized, earliest
    case number(UInt64)
    /// `requireCanonical` (EIP-1898) holds trivially: the index keeps only the canonical chain.
    case hash(Hash32, requireCanonical: Bool)
}

/// A selector that names no block whose state this node can read. The messages are geth's,
/// which clients and the execution-apis tests match on.
public enum BlockNotFound: Error, Equatable, Sendable, CustomStringConvertible {
    /// A safe or finalized tag before the upstream reported that head.
    case noHead(HeadKind)
    case header
    case headerForHash
    /// Below the first indexed block: this node never saw that state.
    case stateBeforeIndexing(block: UInt64, firstIndexed: UInt64)

    public var description: String {
        switch self {
        case .noHead(let kind): "\(kind) block not found"
        case .header: "header not found"
        case .headerForHash: "header for hash not found"
        case .stateBeforeIndexing(let n, let first): "state of block \(n) is not available: this node indexes from block \(first)"
        }
    }
}

extension RequestView {
    /// The block number a selector names, or nil when no such block is indexed (a number is
    /// returned as given: the caller's read of that block answers whether it exists).
    public func resolve(_ selector: BlockSelector) throws -> UInt64? {
        switch selector {
        case .latest, .pending: return try head(.latest)?.number
        case .safe, .finalized:
            let kind: HeadKind = selector == .safe ? .safe : .finalized
            guard let h = try head(kind) else { throw BlockNotFound.noHead(kind) }
            return h.number
        case .earliest: return try head(.earliest)?.number
        case .number(let n): return n
        case .hash(let h, _): return try view.blockNumber(chain, hash: h)
        }
    }

    /// The block whose state a query reads: indexed, not above the head (never the current
    /// state under a later block's number), not below the first indexed block.
    public func stateBlock(_ selector: BlockSelector) throws -> UInt64 {
        guard let n = try resolve(selector) else {
            if case .hash = selector { throw BlockNotFound.headerForHash }
            throw BlockNotFound.header
        }
        guard let latest = try head(.latest), n <= latest.number else { throw BlockNotFound.header }
        if let first = try head(.earliest), n < first.number { throw BlockNotFound.stateBeforeIndexing(block: n, firstIndexed: first.number) }
        return n
    }
}
