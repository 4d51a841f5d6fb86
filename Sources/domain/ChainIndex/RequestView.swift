import Chain

/// Asks the upstream node one JSON-RPC call (method, positional params) for its result.
public typealias UpstreamRead = @Sendable (_ method: String, _ params: [JSONValue]) throws -> JSONValue

/// One request's reads of one chain, whichever surface (JSON-RPC, GraphQL, REST) serves it:
/// one LMDB snapshot, so every part of an answer describes the same state of the chain even
/// while a reorg is applied; one way to name blocks (`resolve`, `stateBlock`); and one rule
/// for account state the index never saw (`read(_:of:at:)`).
///
/// Valid only inside the `ChainIndex.request` closure that received it, on that thread (an
/// LMDB read transaction belongs to the thread that opened it).
public struct RequestView {
    public let chain: UInt64
    /// The snapshot, for blocks, transactions, receipts and logs.
    public let view: ChainView
    /// Where state the index never saw is read; nil when this node does not forward.
    public let upstream: UpstreamRead?

    public func head(_ kind: HeadKind = .latest) throws -> ChainIndex.Head? { try view.head(chain, kind) }
}

extension ChainIndex {
    /// Runs one request's reads of `chain` against one snapshot. The snapshot stays open
    /// until `body` returns: keep upstream calls outside it where the surface allows
    /// (`StateRead.answer`), since growing the LMDB map waits for every open snapshot.
    public func request<R>(chain: UInt64, upstream: UpstreamRead?, _ body: (RequestView) throws -> R) throws -> R {
        try view { try body(RequestView(chain: chain, view: $0, upstream: upstream)) }
    }
}
