import ByteCodec
import Chain
import Foundation
import Storage
import Synchronization
import Testing
import TestSupport
@testable import ChainIndex

/// The request view against `ChainModel` while random commands (reorgs included) are
/// applied: every block selector resolves as the model says, `stateBlock` refuses exactly
/// the blocks whose state is not indexed, and the never-seen rule asks the upstream —
/// pinned to the block — for exactly the accounts and slots the model has no record of.
@Suite struct RequestViewModelTests {
    /// An upstream that answers from the request alone and remembers what it was asked.
    final class StubUpstream: Sendable {
        let calls = Mutex<[(method: String, params: [JSONValue])]>([])

        static func balance(_ params: [JSONValue]) -> U256 {
            U256(Hash32.keccak(Array(JSON.serialize(.array(params)).utf8)).bytes.prefix(7).reduce(0) { $0 << 8 | UInt64($1) })
        }

        var read: UpstreamRead {
            { [self] method, params in
                calls.withLock { $0.append((method, params)) }
                switch method {
                case "eth_getBalance": return .string(Self.balance(params).quantity)
                case "eth_getTransactionCount": return .string(Hex.encodeQuantity(UInt64(params.count) + 1000))
                case "eth_getCode": return .string("0xfe")
                case "eth_getStorageAt": return .string("0x01")   // short, as some upstreams answer: left-padded
                default: throw DecodeError("unexpected \(method)")
                }
            }
        }

        func take() -> [(method: String, params: [JSONValue])] { calls.withLock { c in defer { c = [] }; return c } }
    }

    @Test func selectorsStateBlocksAndTheNeverSeenRuleFollowTheModel() throws {
        let seed = SeededRandom.seed("RequestViewModelTests")
        var seeds = SeededRandom(seed: seed)
        for run in 0..<4 {
            let env = try Environment(path: NSTemporaryDirectory() + "view-model-\(UUID().uuidString.prefix(8))")
            defer { env.close() }
            let ix = try ChainIndex(env: env)
            var model = ChainModel(seed: seeds.next())
            let upstream = StubUpstream()
            for step in 0..<40 {
                let command = model.nextCommand()
                _ = try env.write { txn in try ix.apply(command, in: txn) }
                _ = model.expect(command)
                let context = "seed \(seed) (run \(run), step \(step))"
                try ix.request(chain: ChainModel.cid, upstream: upstream.read) { r in
                    try Self.checkSelectors(r, model, context)
                    try Self.checkNeverSeen(r, model, upstream, context)
                }
            }
        }
    }

    static func checkSelectors(_ r: RequestView, _ model: ChainModel, _ context: String) throws {
        func resolved(_ s: BlockSelector) -> Result<UInt64?, BlockNotFound> {
            do { return .success(try r.resolve(s)) } catch { return .failure(error as! BlockNotFound) }
        }
        func state(_ s: BlockSelector) -> Result<UInt64, BlockNotFound> {
            do { return .success(try r.stateBlock(s)) } catch { return .failure(error as! BlockNotFound) }
        }
        /// The model's answer for `stateBlock`, given what the selector resolves to.
        func expectedState(_ s: BlockSelector, _ n: Result<UInt64?, BlockNotFound>) -> Result<UInt64, BlockNotFound> {
            switch n {
            case .failure(let e): return .failure(e)
            case .success(nil):
                if case .hash = s { return .failure(.headerForHash) }
                return .failure(.header)
            case .success(let n?):
                guard let head = model.head, n <= head.number else { return .failure(.header) }
                if let first = model.earliest?.number, n < first { return .failure(.stateBeforeIndexing(block: n, firstIndexed: first)) }
                return .success(n)
            }
        }
        var cases: [(BlockSelector, Result<UInt64?, BlockNotFound>)] = [
            (.latest, .success(model.head?.number)),
            (.pending, .success(model.head?.number)),
            (.earliest, .success(model.earliest?.number)),
            (.safe, model.safe.map { .success($0) } ?? .failure(.noHead(.safe))),
            (.finalized, model.finalized.map { .success($0) } ?? .failure(.noHead(.finalized))),
        ]
        let lo = model.firstNumber > 2 ? model.firstNumber - 2 : 0
        for n in lo...((model.head?.number ?? model.firstNumber) + 2) { cases.append((.number(n), .success(n))) }
        for (hash, b) in model.everBlocks {
            let onBranch = model.block(at: b.number)?.hash == hash
            for canonical in [false, true] { cases.append((.hash(hash, requireCanonical: canonical), .success(onBranch ? b.number : nil))) }
        }
        for (s, want) in cases {
            #expect(resolved(s) == want, "resolve \(s), \(context)")
            #expect(state(s) == expectedState(s, want), "stateBlock \(s), \(context)")
        }
    }

    static func checkNeverSeen(_ r: RequestView, _ model: ChainModel, _ upstream: StubUpstream, _ context: String) throws {
        guard let head = model.head, let first = model.earliest?.number else { return }
        let st = model.state()
        _ = upstream.take()
        for n in first...head.number {
            let at = JSONValue.string(Hex.encodeQuantity(n))
            for a in model.addresses {
                let known = st.account(a, atOrBelow: n)
                let balance = try r.read(.balance, of: a, at: n)
                switch balance {
                case .indexed(let v):
                    #expect(known?.balance == v, "indexed balance of \(a) at \(n), \(context)")
                case .upstream(let call):
                    #expect(known == nil, "\(a) at \(n) is known to the model, yet asked upstream, \(context)")
                    #expect(call.method == "eth_getBalance" && call.params == [.string(a.hex), at], "pinned to the block, \(context)")
                    #expect(upstream.take().isEmpty, "deciding asks nothing, \(context)")
                    #expect(try call.call() == StubUpstream.balance(call.params), "\(context)")
                    #expect(upstream.take().count == 1, "\(context)")
                }
                #expect(try r.state(.nonce, of: a, at: n) == known?.nonce ?? 1002, "nonce of \(a) at \(n), \(context)")
                #expect(try r.state(.code, of: a, at: n) == known?.code ?? [0xfe], "code of \(a) at \(n), \(context)")
                for s in model.slots {
                    // A slot never written is unknown even when its account is known.
                    let slot = st.slot(a, s, atOrBelow: n)
                    let padded = Hash32(unchecked: [UInt8](repeating: 0, count: 31) + [1])
                    #expect(try r.state(.storage(s), of: a, at: n) == slot ?? padded, "slot \(s) of \(a) at \(n), \(context)")
                }
                let asked = upstream.take()
                let wanted = (known == nil ? 2 : 0) + model.slots.filter { st.slot(a, $0, atOrBelow: n) == nil }.count
                #expect(asked.count == wanted, "upstream calls for \(a) at \(n): \(asked.map(\.method)), \(context)")
                #expect(asked.allSatisfy { $0.params.last == at && $0.params.first == .string(a.hex) }, "\(context)")
            }
        }
    }

    @Test func anUpstreamAnswerThatIsNotTheFieldsEncodingIsRefusedNamingIt() throws {
        let env = try Environment(path: NSTemporaryDirectory() + "view-bad-\(UUID().uuidString.prefix(8))")
        defer { env.close() }
        let ix = try ChainIndex(env: env)
        let bs = CorruptIndexTests.blocks(from: 1, count: 1)
        _ = try env.write { txn in try ix.apply(.blocks(chainId: 4, blocks: bs, safe: nil, finalized: nil), in: txn) }
        let stranger = Address(unchecked: [UInt8](repeating: 0xee, count: 20))
        for answer: JSONValue in [.null, .number("5"), .string("0xzz"), .string("0x" + String(repeating: "11", count: 33))] {
            let bad: UpstreamRead = { _, _ in answer }
            #expect { _ = try ix.request(chain: 4, upstream: bad) { try $0.state(.storage(.zero), of: stranger, at: 1) } } throws: { error in
                (error as? UpstreamAnswerInvalid)?.method == "eth_getStorageAt" && "\(error)".contains("eth_getStorageAt with \(JSON.serialize(answer).prefix(20))")
            }
        }
        // The upstream's own refusal passes through unchanged.
        let refusing: UpstreamRead = { _, _ in throw DecodeError("pruned") }
        #expect(throws: DecodeError("pruned")) { try ix.request(chain: 4, upstream: refusing) { try $0.state(.balance, of: stranger, at: 1) } }
    }
}
