import Chain
import ChainFollower
import ChainIndex

/// A chain as an operator describes it — its registry record (`spec`) and the indexer
/// configuration every node derives from it. The same parser serves the config file's
/// `chains` and the admin endpoint's body, so both refuse the same mistakes with the same
/// field names.
public struct ChainSeed: Sendable {
    public var spec: ChainSpec
    public var config: Indexer.Config

    /// `{"slug", "parent"?, ...chain settings}`; the settings are validated by `parseChain`
    /// and kept (minified, slug and parent removed) as the spec's replicated settings.
    public static func parse(_ v: JSONValue, field: String) throws -> ChainSeed {
        guard let o = v.objectValue else { throw NodeConfig.Invalid(field: field, problem: "must be an object {slug, chainId, adapter, upstreams, ...}") }
        guard let slug = o["slug"]?.stringValue else {
            throw NodeConfig.Invalid(field: "\(field).slug", problem: "is required: the chain's name in URLs, such as base-sepolia")
        }
        if let why = ChainSpec.slugProblem(slug) { throw NodeConfig.Invalid(field: "\(field).slug", problem: why) }
        var parent: UInt64? = nil
        if let p = o["parent"] {
            guard case .number(let n) = p, let id = UInt64(n), id > 0 else {
                throw NodeConfig.Invalid(field: "\(field).parent", problem: "must be the chain id of an L1 this cluster follows")
            }
            parent = id
        }
        var settings = JSONObject()
        for (k, value) in o.pairs where k != "slug" && k != "parent" { settings[k] = value }
        let config = try NodeConfig.parseChain(.object(settings), field: field)
        if parent == config.chainId { throw NodeConfig.Invalid(field: "\(field).parent", problem: "is the chain's own id") }
        let spec = ChainSpec(chainId: config.chainId, slug: slug, parent: parent, settings: Array(JSON.serialize(.object(settings)).utf8))
        return ChainSeed(spec: spec, config: config)
    }

    /// The indexer configuration a registry record stands for, validated again on this node
    /// (a CA file named in the settings must exist here too).
    public static func config(of spec: ChainSpec) throws -> Indexer.Config {
        let settings: JSONValue
        do { settings = try JSON.parse(spec.settings) } catch {
            throw NodeConfig.Invalid(field: "chains[\(spec.slug)]", problem: "stored settings are not JSON: \(error)")
        }
        let config = try NodeConfig.parseChain(settings, field: "chains[\(spec.slug)]")
        guard config.chainId == spec.chainId else {
            throw NodeConfig.Invalid(field: "chains[\(spec.slug)].chainId", problem: "is \(config.chainId), but the record is chain \(spec.chainId)'s")
        }
        return config
    }
}

extension NodeConfig {
    static func parseChains(_ v: JSONValue) throws -> [ChainSeed] {
        guard let list = v.arrayValue else { throw Invalid(field: "chains", problem: "must be an array of chain objects") }
        var seeds = [ChainSeed]()
        for (i, item) in list.enumerated() {
            let seed = try ChainSeed.parse(item, field: "chains[\(i)]")
            if let j = seeds.firstIndex(where: { $0.spec.chainId == seed.spec.chainId }) {
                throw Invalid(field: "chains[\(i)].chainId", problem: "chain \(seed.spec.chainId) is listed twice (also chains[\(j)])")
            }
            if let j = seeds.firstIndex(where: { $0.spec.slug == seed.spec.slug }) {
                throw Invalid(field: "chains[\(i)].slug", problem: "slug \(seed.spec.slug) is listed twice (also chains[\(j)])")
            }
            seeds.append(seed)
        }
        return seeds
    }
}
