import Chain
import ChainIndex

/// The GraphQL read surface of a node: EIP-1767 over the chain index. One instance serves
/// every request (it holds no per-request state); `execute` runs a request to its
/// response object and `handleHTTP` adds the GraphQL-over-HTTP conventions.
public final class GraphQLService: Sendable {
    public let schema: Schema
    let index: ChainIndex
    let chainId: UInt64
    let limits: GraphQLLimits
    let forward: UpstreamForwarder?
    /// The forwarder as the request view's reader of state the index never saw, failing
    /// the field in the words every other forwarded field uses.
    let upstream: UpstreamRead?

    public init(index: ChainIndex, chainId: UInt64, limits: GraphQLLimits = .init(), forward: (@Sendable (String, [JSONValue]) throws -> JSONValue)?) {
        self.index = index
        self.chainId = chainId
        self.limits = limits
        self.forward = forward
        if let forward {
            upstream = { @Sendable (method: String, params: [JSONValue]) throws -> JSONValue in
                do { return try forward(method, params) } catch { throw FieldFailure("upstream \(method) failed: \(Executor.message(error))") }
            }
        } else {
            upstream = nil
        }
        schema = Self.ethereumSchema
    }

    /// Built once per process: the schema text is ours, so a failure is a programming error
    /// that every test run catches.
    static let ethereumSchema: Schema = {
        do { return try SchemaBuilder.build(sdl: EthereumSDL.text, scalars: EthereumScalars.all) } catch {
            fatalError("the EIP-1767 schema text does not build: \(error)")
        }
    }()

    /// The schema as SDL, for tooling.
    public var sdl: String { SchemaPrinter.print(schema) }

    /// Runs a request; the result is the response object (`errors` first when present, then `data`).
    public func execute(query: String, operationName: String?, variables: JSONObject?) -> JSONValue {
        switch withRequest({ r in
            switch prepare(query: query, operationName: operationName, variables: variables, r) {
            case .failure(let e): return Self.response(data: nil, errors: e.errors)
            case .success(let p): return run(p, r)
            }
        }) {
        case .success(let response): return response
        case .failure(let e): return Self.response(data: nil, errors: e.errors)
        }
    }

    /// Runs a whole request — the limits' look at the head and every field — in one snapshot
    /// of the index, so its answer describes one state of the chain. The executor resolves
    /// fields on the calling thread, which an LMDB read transaction requires. Forwarded
    /// fields wait on the upstream inside the snapshot: growing the LMDB map meanwhile waits
    /// for them, bounded by the forwarder's timeout.
    func withRequest<R>(_ body: (RequestView) -> R) -> Result<R, GraphQLErrors> {
        do { return .success(try index.request(chain: chainId, upstream: upstream, body)) } catch {
            return .failure(GraphQLErrors([GraphQLError("The chain index cannot be read: \(Executor.message(error))")]))
        }
    }

    /// A request that passed parsing, validation, variable coercion and the limits.
    struct Prepared {
        var document: DocumentNode
        var operation: OperationDefinitionNode
        var variables: [String: JSONValue]
    }

    func prepare(query: String, operationName: String?, variables: JSONObject?, _ r: RequestView) -> Result<Prepared, GraphQLErrors> {
        guard query.utf8.count <= limits.maxQueryBytes else {
            return .failure(GraphQLErrors([GraphQLError("The query is \(query.utf8.count) bytes, more than the limit of \(limits.maxQueryBytes).")]))
        }
        let document: DocumentNode
        do { document = try Parser.parse(query) } catch { return .failure(GraphQLErrors([error])) }
        let invalid = Validator.validate(document, against: schema)
        if !invalid.isEmpty { return .failure(GraphQLErrors(invalid)) }

        let ops = document.operations
        let op: OperationDefinitionNode
        if let operationName {
            guard let named = ops.first(where: { $0.name == operationName }) else {
                return .failure(GraphQLErrors([GraphQLError("Unknown operation named \(quoted(operationName)).")]))
            }
            op = named
        } else {
            guard ops.count == 1, let only = ops.first else {
                return .failure(GraphQLErrors([GraphQLError(ops.isEmpty ? "Must provide an operation."
                                                            : "Must provide operation name if query contains multiple operations.")]))
            }
            op = only
        }
        let coerced: [String: JSONValue]
        switch InputCoercion(schema: schema).variables(op, variables) {
        case .failure(let e): return .failure(e)
        case .success(let v): coerced = v
        }
        var head: (earliest: UInt64, latest: UInt64)? = nil
        if let l = try? r.head(.latest), let e = try? r.head(.earliest) { head = (e.number, l.number) }
        let limiter = QueryLimits(schema: schema, document: document, variables: coerced, limits: limits,
                                  multiplier: EthereumCostModel.multiplier(head: head))
        if let e = limiter.check(op) { return .failure(GraphQLErrors([e])) }
        return .success(Prepared(document: document, operation: op, variables: coerced))
    }

    func run(_ p: Prepared, _ r: RequestView) -> JSONValue {
        let ctx = EthereumContext(request: r, limits: limits, forward: forward)
        let executor = Executor(schema: schema, document: p.document, variables: p.variables)
        let root: any ObjectValue = p.operation.operation == .mutation ? MutationRoot(ctx: ctx) : QueryRoot(ctx: ctx)
        let data = executor.execute(p.operation, root: root)
        return Self.response(data: data, errors: executor.errors)
    }

    static func response(data: JSONValue?, errors: [GraphQLError]) -> JSONValue {
        var o = JSONObject()
        if !errors.isEmpty { o["errors"] = .array(errors.map(\.json)) }
        if let data { o["data"] = data }
        return .object(o)
    }
}
