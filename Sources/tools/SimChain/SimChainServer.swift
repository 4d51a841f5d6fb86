import Foundation
import Net
import Synchronization
import Telemetry

/// Serves a `SimChain` over JSON-RPC (POST /) and, with a block time, mines on a timer.
///
/// In-process use (tests): `let s = try SimChainServer(options: o); let url = s.start()`,
/// then `s.chain.mine(n)` to advance on demand (with `blockTimeMillis = 0`), `s.stop()`.
public final class SimChainServer: @unchecked Sendable {
    public let chain: SimChain
    let loop: EventLoop
    let http: HTTPServer
    let logger: Logger
    private let running = Atomic<Bool>(false)
    /// Signalled by stop() so the miner thread wakes at once instead of finishing its sleep.
    private let wake = DispatchSemaphore(value: 0)
    private let minerDone = DispatchSemaphore(value: 0)
    private let hasMiner = Atomic<Bool>(false)

    /// `listen` defaults to an ephemeral port on the loopback interface.
    public init(options: SimChainOptions, listen: SocketAddress? = nil, logger: Logger = Logger(component: "simchain")) throws {
        try options.validate()
        self.logger = logger
        let meter = ProgressMeter(what: "mined", unit: "blocks", total: UInt64(options.pregenerate), interval: 5) {
            logger.info("mining the history", [("progress", $0)])
        }
        chain = SimChain(options: options) { meter.reached(UInt64($0)) }
        if options.pregenerate > 0 { meter.finish() }
        loop = try EventLoop(name: "simchain")
        let rpc = SimChainRPC(chain: chain, replay: options.replay ? try ReplayCache(rpc: SimChainRPC(chain: chain), through: chain.headNumber) : nil)
        http = try HTTPServer(address: listen ?? SocketAddress(host: "127.0.0.1", port: 0), loop: loop) { req in rpc.handle(req) }
    }

    public var url: String { "http://\(http.address)" }

    /// Starts serving (and mining, when the block time is positive). Returns the URL.
    @discardableResult
    public func start() -> String {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return url }
        loop.start()
        http.start()
        logger.info("simchain listening", [("url", url), ("chainId", chain.options.chainId), ("seed", chain.options.seed), ("head", chain.headNumber),
                                           ("txsPerBlock", chain.options.txsPerBlock), ("blockTimeMillis", chain.options.blockTimeMillis)])
        let ms = chain.options.blockTimeMillis
        guard ms > 0 else { return url }
        hasMiner.store(true, ordering: .releasing)
        let t = Thread { [self] in
            // Deadlines from a fixed start, so block times do not drift by the mining time.
            let start = DispatchTime.now().uptimeNanoseconds
            var k: UInt64 = 1
            while running.load(ordering: .acquiring) {
                let deadline = DispatchTime(uptimeNanoseconds: start + k * UInt64(ms) * 1_000_000)
                if wake.wait(timeout: deadline) == .success || !running.load(ordering: .acquiring) { break }
                k += 1
                let reorgsBefore = chain.reorgCount
                let head = chain.mine()
                if chain.reorgCount != reorgsBefore, let r = chain.reorgs.last {
                    logger.info("reorg", [("head", head), ("depth", r.depth), ("oldHead", r.oldHead), ("reorgs", chain.reorgCount)])
                }
            }
            minerDone.signal()
        }
        t.name = "simchain-miner"
        t.start()
        return url
    }

    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        if hasMiner.load(ordering: .acquiring) { wake.signal(); minerDone.wait() }
        http.shutdown(timeoutMillis: 1000)
        loop.stop()
    }
}
