import Foundation
import Net
import Synchronization
import Telemetry

/// Serves a `SimChain` over JSON-RPC and, with a block time, mines on a timer.
public final class SimChainServer: @unchecked Sendable {
    public let chain: SimChain
    let loop: EventLoop
    let http: HTTPServer
    let logger: Logger
    private let running = Atomic<Bool>(false)

    public init(options: SimChainOptions, listen: SocketAddress, logger: Logger = Logger(component: "simchain")) throws {
        chain = SimChain(options: options)
        loop = try EventLoop(name: "simchain")
        let rpc = SimChainRPC(chain: chain)
        http = try HTTPServer(address: listen, loop: loop) { req in rpc.handle(req) }
        self.logger = logger
    }

    public var url: String { "http://\(http.address)" }

    public func start() {
        loop.start()
        http.start()
        running.store(true, ordering: .releasing)
        logger.info("simchain listening", [("url", url), ("chainId", chain.options.chainId), ("head", chain.headNumber),
                                           ("txsPerBlock", chain.options.txsPerBlock), ("blockTimeMillis", chain.options.blockTimeMillis)])
        let ms = chain.options.blockTimeMillis
        guard ms > 0 else { return }
        let t = Thread { [self] in
            while running.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: Double(ms) / 1000)
                guard running.load(ordering: .acquiring) else { break }
                let reorgsBefore = chain.reorgCount
                let head = chain.mine()
                if chain.reorgCount != reorgsBefore { logger.info("reorg", [("head", head), ("reorgs", chain.reorgCount)]) }
            }
        }
        t.name = "simchain-miner"
        t.start()
    }

    public func stop() {
        running.store(false, ordering: .releasing)
        http.shutdown(timeoutMillis: 1000)
        loop.stop()
    }
}
