@testable import StateMachine
@testable import ReplicatedLog
@testable import Edge
@testable import NodeConfig
import Consensus
import Foundation
import Net
import Storage
import Synchronization
import Telemetry
@testable import Node

func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "infrastack-\(name)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Connects nodes in one process: a send is a delivery on the target's loop. Links can be cut.
final class LocalHub: @unchecked Sendable {
    private let lock = Mutex<(nodes: [UInt64: ChainNode], cut: Set<UInt64>)>(([:], []))

    func attach(_ node: ChainNode) { lock.withLock { $0.nodes[node.options.id] = node } }
    func detach(_ id: UInt64) { lock.withLock { _ = $0.nodes.removeValue(forKey: id) } }
    func isolate(_ id: UInt64, _ isolated: Bool) { lock.withLock { if isolated { $0.cut.insert(id) } else { $0.cut.remove(id) } } }

    func deliver(from: UInt64, to: UInt64, type: UInt8, payload: [UInt8]) -> Bool {
        let target: ChainNode? = lock.withLock { s in
            s.cut.contains(from) || s.cut.contains(to) ? nil : s.nodes[to]
        }
        guard let target else { return false }
        target.loop.execute { target.receive(from: from, type: type, payload: payload) }
        return true
    }

    final class Endpoint: MessageTransport, @unchecked Sendable {
        let hub: LocalHub
        let id: UInt64
        init(hub: LocalHub, id: UInt64) { self.hub = hub; self.id = id }
        func send(to: UInt64, type: UInt8, payload: [UInt8]) -> Bool { hub.deliver(from: id, to: to, type: type, payload: payload) }
        func setPeers(_ peers: [UInt64: SocketAddress]) {}
    }
}

/// One node of an in-process cluster, restartable on the same data directory.
final class TestNode: @unchecked Sendable {
    let id: UInt64
    let dir: String
    let hub: LocalHub
    var loop: EventLoop!
    var env: Environment!
    var node: ChainNode!
    var endpoint: LocalHub.Endpoint!

    init(id: UInt64, dir: String, hub: LocalHub) { self.id = id; self.dir = dir; self.hub = hub }

    func start(voters: [UInt64]?, snapshotEvery: UInt64 = 10_000) throws {
        loop = try EventLoop(name: "node-\(id)")
        loop.start()
        env = try Environment(path: dir)
        var opts = ChainNode.Options(id: id, randomSeed: id &* 7919)
        opts.tickMillis = 20
        opts.snapshotEvery = snapshotEvery
        node = try ChainNode(options: opts, store: RaftLogStore(env: env), stateMachine: StateMachineRoot(env: env),
                                  bootstrapVoters: voters, configuredPeers: [:], loop: loop,
                                  logger: Logger(component: "node", sink: Logger.Sink(capture: true)).with("node", id))
        endpoint = LocalHub.Endpoint(hub: hub, id: id)
        hub.attach(node)
        node.start(transport: endpoint)
    }

    func stop() {
        hub.detach(id)
        node.stop()
        let done = DispatchSemaphore(value: 0)
        loop.execute { done.signal() }
        done.wait()
        loop.stop()
        usleep(20_000)
        node = nil
        env.close()
        env = nil
    }
}

func waitUntil(timeoutSeconds: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
