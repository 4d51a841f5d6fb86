import Chain
import Foundation
import Net
import SimChain
import Testing
import TestSupport
@testable import RPC

/// Methods that need the upstream are forwarded (block tags pinned to our own head), the
/// upstream's own errors pass through, and with forwarding off the answer says so.
@Suite(.serialized) struct ForwardingTests {
    @Test func forwardedAnswersAndErrors() throws {
        let (ix, seed) = try IndexedSimChain.seeded("rpc forwarding", txs: 3, blocks: 4)
        defer { ix.stop() }
        // eth_gasPrice: the upstream's answer, unchanged.
        #expect(try ix.ours("eth_gasPrice", [])["result"] == ix.theirs("eth_gasPrice", [])["result"], "seed \(seed)")
        // eth_call: SimChain has no EVM; its own -32601 comes back as the answer's error.
        let call = try ix.ours("eth_call", [.object(["to": .string(ix.sim.chain.tokens[0].hex), "data": .string("0x")]), .string("latest")])
        #expect(call["error"]?["code"] == .number("-32601"), "\(JSON.serialize(call))")
        // A block the node has not indexed cannot be pinned: refused before forwarding.
        let future = try ix.ours("eth_call", [.object(["to": .string(ix.sim.chain.tokens[0].hex)]), .string("0x3e8")])
        #expect(future["error"]?["message"] == .string("header not found"))

        let closed = try IndexedSimChain(options: { var o = SimChainOptions(); o.seed = 5; return o }(), forward: false)
        defer { closed.stop() }
        let refused = try closed.ours("eth_gasPrice", [])
        #expect(refused["error"]?["code"] == .number("-32000"))
        #expect(refused["error"]?["message"]?.stringValue?.contains("forwarding is disabled") == true)
        let subscribe = try closed.ours("eth_subscribe", [.string("newHeads")])
        #expect(subscribe["error"]?["message"]?.stringValue?.contains("WebSocket") == true)
    }

    /// On an event loop (an inline attempt), a call that needs the upstream abandons the
    /// attempt before any request leaves (`UpstreamClient.batch` checks first), and is not counted; the worker's run answers.
    @Test func aForwardedCallAbandonsAnInlineAttempt() throws {
        let (ix, seed) = try IndexedSimChain.seeded("rpc forwarding inline", txs: 2, blocks: 2)
        defer { ix.stop() }
        let attempt = InlineAttempt.run { try? ix.ours("eth_gasPrice", []) }
        #expect(attempt == nil, "seed \(seed): the attempt is abandoned, its answer discarded")
        #expect(ix.api.stats.snapshot.methods["eth_gasPrice"] == nil, "the abandoned call is not counted")
        // A bounded local read is answered inside an attempt.
        let local = InlineAttempt.run { try? ix.ours("eth_blockNumber", []) }
        #expect(local??["result"] != nil)
        // Run again where blocking is allowed, it is forwarded, answered and counted once.
        #expect(try ix.ours("eth_gasPrice", [])["result"] == ix.theirs("eth_gasPrice", [])["result"])
        #expect(ix.api.stats.snapshot.methods["eth_gasPrice"]?.calls == 1)
    }
}
