import Upstream
import Chain
import Foundation
import ChainIndex
import Net
import Storage
import Synchronization
import Telemetry
import Testing
@testable import ChainFollower

/// A provider's WebSocket endpoint: answers eth_subscribe and pushes a notification for
/// every new head it sees on the SimChain behind it.
final class HeadsServer: @unchecked Sendable {
    let loop: EventLoop
    var server: HTTPServer!
    let subscribers = Mutex<[WebSocket]>([])
    let running = Atomic<Bool>(true)

    init(upstream: String) throws {
        loop = try EventLoop(name: "heads-ws")
        loop.start()
        server = try HTTPServer(address: SocketAddress(host: "127.0.0.1", port: 0), loop: loop, handler: { _ in .text("ws only", status: 400) },
                                webSocket: { _ in
            WebSocketHandler(onText: { [weak self] ws, text in
                guard text.contains("eth_subscribe") else { return }
                ws.send(text: #"{"jsonrpc":"2.0","id":1,"result":"0xfeed"}"#)
                self?.subscribers.withLock { $0.append(ws) }
            })
        })
        server.start()
        let t = Thread { [weak self] in
            let rpc = UpstreamClient(urls: [upstream], timeoutMillis: 2000, attempts: 1)
            var last: UInt64 = 0
            while let self, self.running.load(ordering: .relaxed) {
                if let h = try? rpc.call("eth_blockNumber", []).stringValue.flatMap({ try? Hex.decodeQuantity($0) }), h != last {
                    last = h
                    let note = #"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0xfeed","result":{"number":"\#(Hex.encodeQuantity(h))"}}}"#
                    for ws in self.subscribers.withLock({ $0 }) { ws.send(text: note) }
                }
                usleep(50_000)
            }
        }
        t.start()
    }

    var url: String { "ws://\(server.address)/ws/some-key" }
    /// Idempotent: the test stops it midway, and the deferred stop runs again.
    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        server.shutdown(timeoutMillis: 200)
        loop.stop()
    }
}

/// The newHeads subscription as the head signal: with polling set to a minute, blocks are
/// indexed as they are mined only because each notification wakes the indexer.
@Suite(.serialized) struct HeadWatcherTests {
    @Test func notificationsWakeTheIndexerWhenPollingIsSlow() throws {
        let sim = try SimChainProcess(port: 24431, arguments: ["--txs-per-block", "2", "--pregenerate", "3", "--block-time-ms", "400"])
        defer { sim.stop() }
        let heads = try HeadsServer(upstream: sim.url)
        defer { heads.stop() }
        let env = try Environment(path: NSTemporaryDirectory() + "heads-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        let host = DirectHost(env: env, index: index)
        var cfg = Indexer.Config(chainId: IndexerTests.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: sim.url, ws: heads.url)])
        cfg.pollMillis = 60_000   // polling alone would see one new block a minute
        let ix = Indexer(config: cfg, index: index, host: host, logger: Logger(component: "indexer", sink: Logger.Sink(capture: true)))
        ix.start()
        defer { ix.stop() }
        let deadline = Date().addingTimeInterval(30)
        var indexed: UInt64 = 0
        while Date() < deadline && indexed < 10 {
            indexed = (try? host.index.view { try $0.head(IndexerTests.chainId) }?.number) ?? 0
            usleep(50_000)
        }
        #expect(indexed >= 10, "blocks indexed as notifications arrived (head \(indexed)); status \(ix.status.headSignal)")
        #expect(ix.status.headSignal.contains("subscribed to newHeads"), "\(ix.status.headSignal)")
        #expect(!ix.status.headSignal.contains("some-key"), "the WebSocket URL is shown redacted")

        // The subscription drops: polling carries on and the watcher says it is reconnecting.
        heads.stop()
        var sawReconnect = false
        for _ in 0..<100 where !sawReconnect { sawReconnect = ix.status.headSignal.contains("reconnecting"); usleep(50_000) }
        #expect(sawReconnect, "\(ix.status.headSignal)")
    }
}
