import Chain
import Foundation
import SimChain
import Synchronization
import Testing
import TestSupport
@testable import RPC

/// eth_subscribe as a WebSocket connection sees it: newHeads in order, logs as they are
/// applied, and the logs a reorg undid sent again with removed: true.
@Suite(.serialized) struct SubscriptionTests {
    final class Inbox: Sendable {
        let messages = Mutex<[JSONValue]>([])
        func add(_ s: String) { if let v = try? JSON.parse(s) { messages.withLock { $0.append(v) } } }
        func results(_ id: JSONValue) -> [JSONValue] {
            messages.withLock { $0.filter { $0["params"]?["subscription"] == id }.compactMap { $0["params"]?["result"] } }
        }
    }

    @Test func headsAndLogsWithReorgRemovals() throws {
        let (ix, seed) = try IndexedSimChain.seeded("rpc subscriptions", txs: 10, blocks: 5)
        defer { ix.stop() }
        let chain = ix.sim.chain
        let inbox = Inbox()
        let send: SubscriptionHub.Send = { inbox.add($0) }
        let heads = try ix.api.call("eth_subscribe", RPCParams(values: [.string("newHeads")]), connection: 1, send: send)
        let logs = try ix.api.call("eth_subscribe", RPCParams(values: [.string("logs"), .object(["topics": .array([.string(SimChain.transferTopic.hex)])])]),
                                   connection: 1, send: send)
        let other = try ix.api.call("eth_subscribe", RPCParams(values: [.string("newHeads")]), connection: 2, send: send)
        #expect(throws: RPCError.self) { try ix.api.call("eth_subscribe", RPCParams(values: [.string("newPendingTransactions")]), connection: 1, send: send) }
        #expect(throws: RPCError.self) { try ix.api.call("eth_subscribe", RPCParams(values: [.string("logs"), .object(["fromBlock": .string("0x1")])]), connection: 1, send: send) }

        _ = chain.mine(3)
        #expect(ix.waitCaughtUp(), "seed \(seed)")
        #expect(waitUntil { inbox.results(heads).count >= 3 })
        let headNumbers = inbox.results(heads).map { $0["number"] }
        #expect(headNumbers == (6...8).map { hex(UInt64($0)) }, "seed \(seed)")
        #expect(inbox.results(heads).allSatisfy { $0["transactions"] == nil && $0["hash"] != nil && $0["stateRoot"] != nil })
        let before = (6...8).flatMap { n in chain.block(UInt64(n))!.logs.filter { $0.topics.first == SimChain.transferTopic }.map(\.json) }
        let undone = (7...8).flatMap { n in chain.block(UInt64(n))!.logs.filter { $0.topics.first == SimChain.transferTopic }.map(\.json) }
        _ = chain.reorg(depth: 2)
        #expect(ix.waitCaughtUp(), "seed \(seed)")
        let head = chain.headNumber
        let fresh = (7...head).flatMap { n in chain.block(n)!.logs.filter { $0.topics.first == SimChain.transferTopic }.map(\.json) }
        #expect(waitUntil { inbox.results(logs).count >= before.count + undone.count + fresh.count })
        let got = inbox.results(logs)
        let removed = got.filter { $0["removed"] == .bool(true) }
        #expect(removed.map { $0["transactionHash"] } == undone.map { $0["transactionHash"] } && !undone.isEmpty, "seed \(seed): undone logs come back removed")
        let live = got.filter { $0["removed"] == .bool(false) }
        #expect(live.map { $0["transactionHash"]?.stringValue ?? "" } == (before + fresh).map { $0["transactionHash"]?.stringValue ?? "" } && live == before + fresh,
                "seed \(seed): logs of the old branch, then of the new one")
        #expect(got.firstIndex { $0["removed"] == .bool(true) }! > got.lastIndex { $0["blockHash"] == before.last?["blockHash"] && $0["removed"] == .bool(false) }!, "removals follow what they undo")

        // Unsubscribe is per connection; closing a connection drops its subscriptions.
        #expect(try ix.api.call("eth_unsubscribe", RPCParams(values: [heads]), connection: 2, send: send) == .bool(false))
        #expect(try ix.api.call("eth_unsubscribe", RPCParams(values: [heads]), connection: 1, send: send) == .bool(true))
        ix.api.subscriptions.connectionClosed(2)
        #expect(ix.api.subscriptions.count == 1)
        _ = other
    }
}
