import Foundation
import Net
import Synchronization
import Telemetry
import Testing
@testable import PeerTransport

/// The message handler is called through the same number of frames on the millionth
/// message as on the first. A closure kept directly in a `Mutex` gained a pair of
/// re-abstraction thunks on every `withLock`, so each delivery got slower than the last.
@Suite struct HandlerDepthTests {
    static func stackDepth() -> Int { Thread.callStackReturnAddresses.count }

    @Test func deliveriesDoNotDeepenTheHandlerCall() throws {
        let loop = try EventLoop(name: "depth")
        let transport = PeerTransport(nodeID: 1, clusterID: "test", secret: Array("secret".utf8),
                                      listen: SocketAddress(host: "127.0.0.1", port: 0), peers: [:], loop: loop,
                                      logger: Logger(component: "peer", sink: Logger.Sink(minimum: .error, capture: true), context: []))
        let depths = Mutex<[Int]>([])
        transport.onMessage = { _, _, _ in depths.withLock { $0.append(Self.stackDepth()) } }
        _ = transport.onMessage   // reading the handler must not re-wrap it either
        for _ in 0..<2_000 { transport.deliver(from: 2, Frame(type: 1, payload: [1, 2, 3])) }
        let seen = depths.withLock { $0 }
        #expect(seen.count == 2_000)
        #expect(seen.first == seen.last, "handler called \(seen.first ?? 0) frames deep at first, \(seen.last ?? 0) after 2,000 deliveries")
    }
}
