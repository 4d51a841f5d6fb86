import ByteCodec
import Chain
import ChainIndex
import Net
import StateMachine

/// A chain's state at one block as the index holds it, in pages, for `infrastack export
/// state`:
///
///   GET /v1/export/state?block=N|latest|safe|finalized[&chain=SLUG][&after=CURSOR][&limit=K]
///
/// The body is JSON lines in (address, slot) order, each account followed by its non-zero
/// slots: `{"type":"account","address","balance","nonce","codeHash","code"}` and
/// `{"type":"storage","address","slot","value"}`. `X-Infrastack-State-Block` and
/// `X-Infrastack-State-Block-Hash` name the block the page describes (a tag is resolved per
/// request: an exporter pins the number it got first and compares the hash on every page,
/// which is how a reorg below the block is noticed); `X-Infrastack-Next-Cursor` continues
/// the walk; without it the walk is at its end. `limit=0` answers only which block.
///
/// Cluster admins export any chain, an organisation's admins and operators the chains it
/// owns. Any node answers from its own copy.
struct StateExportAdmin: Sendable {
    let node: ChainNode
    /// The config file's `chain`, served when no `chain` parameter names one.
    let fixedChain: UInt64?

    static let path = "/v1/export/state"
    static let maxLimit = 10_000

    static func owns(_ path: String) -> Bool { path == Self.path }

    func handle(_ req: HTTPRequest, _ access: AdminAccess) -> HTTPResponse {
        guard req.method == "GET" else { return jsonError(405, "the state export is read-only: use GET") }
        let q = req.query
        for k in q.keys where !["block", "chain", "after", "limit"].contains(k) {
            return jsonError(400, "unknown parameter \(boundedQuote(k)) (known: block, chain, after, limit)")
        }
        var limit = 1000
        if let l = q["limit"] {
            guard let n = Int(l), (0...Self.maxLimit).contains(n) else { return jsonError(400, "limit must be 0 to \(Self.maxLimit)") }
            limit = n
        }
        guard let blockText = q["block"], !blockText.isEmpty else {
            return jsonError(400, "block is required: a block number, or latest, safe or finalized")
        }
        let selector: BlockSelector
        switch blockText {
        case "latest": selector = .latest
        case "safe": selector = .safe
        case "finalized": selector = .finalized
        default:
            guard let n = UInt64(blockText) else { return jsonError(400, "block must be a block number (decimal), or latest, safe or finalized; not \(boundedQuote(blockText))") }
            selector = .number(n)
        }
        var cursor: StateCursor? = nil
        if let a = q["after"] {
            guard let c = StateCursor(parsing: a) else { return jsonError(400, "after must be a cursor this endpoint returned (0x<address> or 0x<address>:0x<slot>)") }
            cursor = c
        }
        let cid: UInt64
        switch chain(q["chain"]) {
        case .failure(let why): return jsonError(404, why.description)
        case .success(let id): cid = id
        }
        let owner = (try? node.stateMachine.tenantView { d, txn in try d.owner(ofChain: cid, txn) }) ?? nil
        if let refusal = access.require(AdminAccess.admins, in: owner ?? 0, "exporting a chain's state", hidden: jsonError(404, "no such chain")) { return refusal }
        do {
            let page = try node.stateMachine.chain.request(chain: cid, upstream: nil) { r -> (UInt64, Hash32, [StateEntry], StateCursor?)? in
                let n = try r.stateBlock(selector)
                guard let hash = try r.view.block(cid, number: n, fullTransactions: false)?.objectValue.flatMap({ try? $0.hash("hash") }) else { return nil }
                if limit == 0 { return (n, hash, [], cursor) }
                let (entries, next) = try r.view.stateEntries(cid, at: n, after: cursor, limit: limit)
                return (n, hash, entries, next)
            }
            guard let (n, hash, entries, next) = page else { return jsonError(404, "block \(blockText) is not indexed on this node") }
            var body = [UInt8]()
            for e in entries {
                body += Array(JSON.serialize(Self.json(e)).utf8)
                body.append(UInt8(ascii: "\n"))
            }
            var headers = [("Content-Type", "application/x-ndjson"), ("X-Infrastack-State-Block", String(n)), ("X-Infrastack-State-Block-Hash", hash.hex)]
            if let next { headers.append(("X-Infrastack-Next-Cursor", next.description)) }
            return HTTPResponse(status: 200, headers: headers, body: body)
        } catch let e as BlockNotFound {
            return jsonError(404, "block \(blockText): \(e)")
        } catch {
            return jsonError(500, "cannot read the state: \(error)")
        }
    }

    struct NoChain: Error, CustomStringConvertible { let description: String }

    /// The chain a request names by slug, else the config file's chain, else the registry's
    /// only active chain.
    func chain(_ slug: String?) -> Result<UInt64, NoChain> {
        let records = (try? node.stateMachine.allChains()) ?? []
        if let slug {
            guard let r = records.first(where: { $0.spec.slug == slug }), r.state != .removing else {
                return .failure(NoChain(description: "no chain \(boundedQuote(slug)) in this cluster (see GET /v1/cluster/chains)"))
            }
            return .success(r.spec.chainId)
        }
        if let fixedChain { return .success(fixedChain) }
        let active = records.filter { $0.state == .active }
        if active.count == 1 { return .success(active[0].spec.chainId) }
        return .failure(NoChain(description: active.isEmpty ? "this node follows no chain"
            : "this cluster follows \(active.count) chains: name one with chain=<slug> (\(active.map(\.spec.slug).joined(separator: ", ")))"))
    }

    static func json(_ e: StateEntry) -> JSONValue {
        switch e {
        case .account(let a, let balance, let nonce, let codeHash, let code):
            return .object(["type": .string("account"), "address": .string(a.hex), "balance": .string(balance.quantity),
                            "nonce": .string(Hex.encodeQuantity(nonce)), "codeHash": .string(codeHash.hex), "code": .string(Hex.encode(code))])
        case .slot(let a, let slot, let value):
            return .object(["type": .string("storage"), "address": .string(a.hex), "slot": .string(slot.hex), "value": .string(value.hex)])
        }
    }
}
