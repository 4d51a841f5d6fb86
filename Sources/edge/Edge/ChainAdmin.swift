import ByteCodec
import Chain
import ChainFollower
import ChainIndex
import Dispatch
import Net
import NodeConfig
import StateMachine
import Upstream

/// Chain management, the admin endpoints behind `infrastack chain`. Cluster admins manage
/// the registry; an organisation's members see the chains it owns, and its admins and
/// operators pause and resume them:
///
///   GET    /v1/cluster/chains                every chain of the registry and how this node runs it
///   POST   /v1/cluster/chains                add {slug, chainId, adapter, upstreams, ..., parent?}
///   PUT    /v1/cluster/chains/{slug}         change a chain's settings (same body, same chainId)
///   POST   /v1/cluster/chains/{slug}/pause   stop indexing (reads keep answering)
///   POST   /v1/cluster/chains/{slug}/resume
///   DELETE /v1/cluster/chains/{slug}         stop, then delete its data in bounded steps
///
/// A body is validated with the node config's rules (errors name the field), then every
/// upstream must answer eth_chainId with the chain's id — before anything is proposed, on
/// a worker thread, never on the HTTP loop. Changes go through the Raft log.
struct ChainAdmin: Sendable {
    let node: ChainNode
    let statuses: @Sendable () -> [ChainRunStatus]
    /// How long each upstream may take to answer the admission check.
    var upstreamTimeoutMillis = 3000

    static let prefix = "/v1/cluster/chains"

    static func owns(_ path: String) -> Bool { path == prefix || path.hasPrefix(prefix + "/") }

    /// `forward` runs its closure on the leader (or forwards the request there).
    func handle(_ req: HTTPRequest, _ access: AdminAccess, forward: (() -> HTTPResponse) -> HTTPResponse) -> HTTPResponse {
        let rest = req.path.dropFirst(Self.prefix.count).split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let owners = access.isClusterAdmin ? [:] : ((try? node.stateMachine.tenantView { d, txn in try d.chainOwners(txn) }) ?? [:])
        /// A member sees the chains of their organisations; the rest of the registry is not there for them.
        func visible(_ chainId: UInt64) -> Bool { access.isClusterAdmin || owners[chainId].map(access.sees) == true }
        if req.path == Self.prefix {
            switch req.method {
            case "GET": return list(visible)
            case "POST":
                if let refusal = access.requireClusterAdmin("add chains to the registry") { return refusal }
                switch parse(req.body) {
                case .failure(let why): return jsonError(400, why.description)
                case .success(let seed): return forward { admit(seed, changing: false) }
                }
            default: return jsonError(405, "use GET or POST on \(Self.prefix)")
            }
        }
        guard let slug = rest.first.map(String.init), !slug.isEmpty else { return jsonError(404, "use \(Self.prefix)/{slug}") }
        guard let record = find(slug), visible(record.spec.chainId) else {
            return jsonError(404, "no chain \(boundedQuote(slug)) in the registry (see GET \(Self.prefix))")
        }
        let id = record.spec.chainId
        let verb = rest.count == 2 ? String(rest.last!) : nil
        if req.method != "GET" {
            if verb == "pause" || verb == "resume" {
                let hidden = jsonError(404, "no chain \(boundedQuote(slug)) in the registry")
                if let refusal = access.require(AdminAccess.admins, in: owners[id] ?? 0, "pausing and resuming chains", hidden: hidden) { return refusal }
            } else if let refusal = access.requireClusterAdmin("change or remove chains of the registry") {
                return refusal
            }
        }
        switch (req.method, verb) {
        case ("GET", nil) where rest.count == 1:
            guard let item = items({ $0 == id }).first else { return jsonError(404, "no chain \(boundedQuote(slug)) in the registry") }
            return .json(JSON.serialize(item) + "\n")
        case ("PUT", nil):
            switch parse(req.body) {
            case .failure(let why): return jsonError(400, why.description)
            case .success(let seed):
                guard seed.spec.chainId == id else {
                    return jsonError(400, "chainId is \(seed.spec.chainId), but \(slug) is chain \(id): a chain id cannot change (remove and add instead)")
                }
                return forward { admit(seed, changing: true) }
            }
        case ("POST", "pause"): return forward { change(.setPaused(chainId: id, paused: true), "\(slug) paused") }
        case ("POST", "resume"): return forward { change(.setPaused(chainId: id, paused: false), "\(slug) resumed") }
        case ("DELETE", nil):
            guard record.state != .removing else { return jsonError(409, "\(slug) is already being removed") }
            return forward { change(.remove(chainId: id), "\(slug) is being removed; its data is deleted in the background") }
        default:
            return jsonError(405, "use GET, PUT or DELETE on \(Self.prefix)/{slug}, POST on \(Self.prefix)/{slug}/pause or /resume")
        }
    }

    struct Problem: Error, CustomStringConvertible { let description: String }

    func parse(_ body: [UInt8]) -> Result<ChainSeed, Problem> {
        guard let v = try? JSON.parse(body) else { return .failure(Problem(description: "body must be a JSON object {slug, chainId, adapter, upstreams, ...}")) }
        do { return .success(try ChainSeed.parse(v, field: "chain")) } catch {
            return .failure(Problem(description: "\(error)"))
        }
    }

    func find(_ slug: String) -> ChainRecord? {
        ((try? node.stateMachine.allChains()) ?? []).first { $0.spec.slug == slug }
    }

    func list(_ visible: (UInt64) -> Bool) -> HTTPResponse {
        .json(JSON.serialize(.object(["chains": .array(items(visible))])) + "\n")
    }

    func items(_ visible: (UInt64) -> Bool) -> [JSONValue] {
        let runs = statuses()
        let known = runs.isEmpty ? ((try? node.stateMachine.allChains()) ?? []).map { ChainRunStatus(record: $0, indexer: nil, problem: nil) } : runs
        let items = known.filter { visible($0.record.spec.chainId) }.map { run -> JSONValue in
            var o = ChainStatusEntry(run: run, index: node.stateMachine.chain).statusJSON.objectValue ?? [:]
            o["upstreams"] = .array(Self.redactedUpstreams(run.record.spec).map { .string($0) })
            return .object(o)
        }
        return items
    }

    /// Upstream URLs without path, query or credentials, as the settings name them.
    static func redactedUpstreams(_ spec: ChainSpec) -> [String] {
        guard let ups = (try? JSON.parse(spec.settings))?.objectValue?["upstreams"]?.arrayValue else { return [] }
        return ups.map { u in UpstreamEndpoint(url: u.stringValue ?? u.objectValue?["url"]?.stringValue ?? "").redacted }
    }

    /// Checks against the registry and every upstream, then proposes. Answered later: the
    /// upstream checks run on a worker thread.
    func admit(_ seed: ChainSeed, changing: Bool) -> HTTPResponse {
        let records = (try? node.stateMachine.allChains()) ?? []
        let spec = seed.spec
        if let existing = records.first(where: { $0.spec.chainId == spec.chainId }) {
            if !changing { return jsonError(409, "chain \(spec.chainId) is already in the registry as \(existing.spec.slug)") }
            if existing.state == .removing { return jsonError(409, "chain \(spec.chainId) is being removed") }
        }
        if let other = records.first(where: { $0.spec.slug == spec.slug && $0.spec.chainId != spec.chainId }) {
            return jsonError(409, "slug \(spec.slug) is chain \(other.spec.chainId)'s")
        }
        if let p = spec.parent, !records.contains(where: { $0.spec.chainId == p }) {
            return jsonError(400, "parent \(p) is not a chain of this cluster (add the L1 first)")
        }
        let answer = DeferredResponse()
        let timeout = upstreamTimeoutMillis
        DispatchQueue.global().async { [node] in
            if let why = Self.checkUpstreams(seed.config, timeoutMillis: timeout) {
                answer.fulfil(jsonError(422, why))
                return
            }
            let what = changing ? "\(spec.slug) changed" : "\(spec.slug) added"
            node.propose(raw: ChainRegistryCommand.put(spec).encoded()) { outcome in
                // Applied can still mean skipped: another admin's change won the race.
                if case .applied = outcome, (try? node.stateMachine.allChains())?.first(where: { $0.spec.chainId == spec.chainId })?.spec != spec {
                    answer.fulfil(jsonError(409, "the registry changed meanwhile (slug or chain taken, or being removed); nothing was changed"))
                    return
                }
                answer.fulfil(Self.response(outcome, what))
            }
        }
        return .later(answer)
    }

    /// nil when every upstream answers eth_chainId with the chain's id; else which did not.
    static func checkUpstreams(_ config: Indexer.Config, timeoutMillis: Int) -> String? {
        precondition(!config.upstreams.isEmpty, "a validated chain has an upstream")
        for (i, e) in config.upstreams.enumerated() {
            let client = UpstreamClient(endpoints: [e], timeoutMillis: timeoutMillis, attempts: 1)
            do {
                let answer = try client.call("eth_chainId", [])
                guard let text = answer.stringValue, let id = try? Hex.decodeQuantity(text) else {
                    return "chain.upstreams[\(i)] (\(e.redacted)) answered eth_chainId with \(boundedQuote(JSON.serialize(answer)))"
                }
                if id != config.chainId { return "chain.upstreams[\(i)] (\(e.redacted)) serves chain id \(id), not \(config.chainId)" }
            } catch {
                return "chain.upstreams[\(i)] (\(e.redacted)) is unreachable: \(error)"
            }
        }
        return nil
    }

    func change(_ command: ChainRegistryCommand, _ what: String) -> HTTPResponse {
        let answer = DeferredResponse()
        node.propose(raw: command.encoded()) { outcome in answer.fulfil(Self.response(outcome, what)) }
        return .later(answer)
    }

    static func response(_ outcome: ChainNode.ProposeOutcome, _ what: String) -> HTTPResponse {
        AdminAPI.response(outcome) { index in .json("{\"ok\":true,\"index\":\(index),\"message\":\(jsonQuote(what))}\n") }
    }
}
