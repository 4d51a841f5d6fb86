import Chain
import Net
import ChainIndex
import Upstream
import Synchronization
import Telemetry

/// Sends the methods that need an execution client (calls, gas, fees, transaction
/// submission, state proofs) to the upstream. Block arguments given as tags are pinned
/// to this node's own block first, so a forwarded answer is about the same chain state
/// the node's local answers describe. eth_getProof answers are checked against the state
/// root of our verified header before they are returned.
public final class Forwarder: Sendable {
    public static let methods: Set<String> = ["eth_call", "eth_estimateGas", "eth_createAccessList", "eth_sendRawTransaction",
                                              "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_getProof", "eth_blobBaseFee"]
    /// Which argument, per method, names a block that we pin to a number.
    static let blockArgument: [String: Int] = ["eth_call": 1, "eth_estimateGas": 1, "eth_createAccessList": 1, "eth_getProof": 2]

    let endpoints: [UpstreamEndpoint]
    let timeoutMillis: Int
    let logger: Logger?
    private let idle = IdlePool<UpstreamClient>(capacityPerKey: 32)
    private let alertCount = Atomic<Int>(0)

    public init(endpoints: [UpstreamEndpoint], timeoutMillis: Int = 10_000, logger: Logger? = nil) {
        precondition(!endpoints.isEmpty, "a forwarder needs at least one upstream URL")
        self.endpoints = endpoints
        self.timeoutMillis = timeoutMillis
        self.logger = logger
    }

    /// eth_getProof answers refused because they did not match our verified state root.
    public var rejectedProofs: Int { alertCount.load(ordering: .relaxed) }

    func forward(_ method: String, _ p: RPCParams, api: EthAPI) throws -> JSONValue {
        var params = p.values
        var pinned: (block: UInt64, stateRoot: Hash32?)? = nil
        if let i = Self.blockArgument[method] {
            let sel = try p.block(i, default: .latest)
            // The block and, for a proof, the state root it is checked against, from one snapshot.
            let pin = try api.request { r -> (block: UInt64, stateRoot: Hash32?) in
                let n = try r.stateBlock(sel)
                guard method == "eth_getProof" else { return (n, nil) }
                guard let block = try r.view.block(r.chain, number: n, fullTransactions: false),
                      let rootText = block["stateRoot"]?.stringValue, let root = try? Hash32(hex: rootText) else {
                    throw RPCError.server("block \(n) is not indexed here; cannot check the proof")
                }
                return (n, root)
            }
            pinned = pin
            while params.count <= i { params.append(.null) }
            params[i] = .string(Hex.encodeQuantity(pin.block))
        }
        let answer = try call(method, params)
        if method == "eth_getProof", let n = pinned?.block, let root = pinned?.stateRoot {
            let address = try p.address(0)
            do { try AccountProofCheck.verify(answer, address: address, stateRoot: root) } catch {
                alertCount.add(1, ordering: .relaxed)
                logger?.error("alert: upstream eth_getProof does not match our verified state root",
                              [("block", n), ("address", address.hex), ("stateRoot", root.hex), ("problem", error.description)])
                throw RPCError.server("the upstream's eth_getProof answer does not match the state root of verified block \(n): \(error.description); refused")
            }
        }
        return answer
    }

    /// One upstream call, unchanged (GraphQL forwards through this too).
    public func call(_ method: String, _ params: [JSONValue]) throws -> JSONValue {
        let client = idle.take("") { Self.client(endpoints, timeoutMillis) }
        defer { idle.giveBack(client, "") }
        do {
            return try client.call(method, params)
        } catch let e as UpstreamClient.RPCError {
            // The upstream's own error (a revert, a rejected transaction) is the answer.
            throw RPCError(code: e.code, message: e.message, data: e.data)
        } catch {
            throw RPCError.server("upstream unavailable for \(method): \(error)", data: .object(["retryable": .bool(true)]))
        }
    }
}

/// A client used by one request at a time: taken from the pool, used, put back.
extension Forwarder {
    /// A caller is waiting on a forwarded call: a rate-limited upstream gets one short wait,
    /// not the indexer's patience, and the caller sees the upstream's refusal instead.
    static func client(_ endpoints: [UpstreamEndpoint], _ timeoutMillis: Int) -> UpstreamClient {
        let c = UpstreamClient(endpoints: endpoints, timeoutMillis: timeoutMillis, attempts: 2)
        c.maxRetryAfterSeconds = 2
        c.rateLimitRetries = 1
        return c
    }
}

