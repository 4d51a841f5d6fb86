import ChainFollower
import ChainIndex
import Foundation
import NodeConfig
import StateMachine
import Synchronization
import Telemetry

/// Runs one indexer per active chain of the replicated registry (each ingests only while
/// this node leads), and, on the leader, seeds the registry from the config file once and
/// drives the purge steps of removed chains. It follows the registry by reading it every
/// `pollMillis`: a change committed anywhere, or arriving in a snapshot, is picked up alike.
final class ChainSupervisor: @unchecked Sendable {
    let node: ChainNode
    let seeds: [ChainSeed]
    /// The config file's `chain`, which runs outside the registry.
    let fixedChain: UInt64?
    let logger: Logger
    let pollMillis: Int
    /// Data keys one purge entry deletes: one LMDB transaction of a few megabytes at most,
    /// so reads and other chains' applies never wait long behind a removal.
    let purgeKeysPerStep: UInt32

    private struct Running {
        var spec: ChainSpec
        var indexer: Indexer
    }
    private let state = Mutex<(running: [UInt64: Running], problems: [UInt64: String], records: [ChainRecord])>(([:], [:], []))
    private let active = Atomic<Bool>(false)
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private var lastPurgeLog = Date.distantPast
    /// The removal in progress here: its chain, the keys it had when this node started
    /// driving it (after `purgedKeys` already deleted), and when.
    private var removal: (chainId: UInt64, total: UInt64, startDeleted: UInt64, started: Date)?

    init(node: ChainNode, seeds: [ChainSeed], fixedChain: UInt64?, logger: Logger, pollMillis: Int = 250, purgeKeysPerStep: UInt32 = 20_000) {
        precondition(pollMillis > 0, "the registry is read at an interval")
        precondition(purgeKeysPerStep > 0, "a purge step deletes something")
        precondition(Set(seeds.map(\.spec.chainId)).count == seeds.count, "seeds name each chain once")
        self.node = node; self.seeds = seeds; self.fixedChain = fixedChain; self.logger = logger
        self.pollMillis = pollMillis; self.purgeKeysPerStep = purgeKeysPerStep
    }

    func start() {
        guard !active.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let t = Thread { [self] in
            defer { finished.signal() }
            while active.load(ordering: .acquiring) {
                let busy = step()
                if !busy { Thread.sleep(forTimeInterval: Double(pollMillis) / 1000) }
            }
        }
        t.name = "chain-supervisor"
        thread = t
        t.start()
    }

    func stop() {
        guard active.exchange(false, ordering: .acquiringAndReleasing) else { return }
        _ = finished.wait(timeout: .now() + 5)
        let running = state.withLock { s in let r = s.running; s.running = [:]; return r }
        for (_, r) in running where !r.indexer.stop(waitingSeconds: 5) {
            logger.warn("indexer did not stop in time", [("chain", r.spec.slug)])
        }
    }

    /// Every chain of the registry with what runs for it here, in chain-id order.
    var statuses: [ChainRunStatus] {
        state.withLock { s in
            s.records.map { r in ChainRunStatus(record: r, indexer: s.running[r.spec.chainId]?.indexer.status, problem: s.problems[r.spec.chainId]) }
        }
    }

    /// One reconciliation; true when there is more work right away (a purge in progress).
    func step() -> Bool {
        let records: [ChainRecord]
        let seeded: Bool
        do {
            (records, seeded) = try node.stateMachine.chainRegistry()
        } catch {
            // Corrupt registry state stops apply too; say it once per poll, keep what runs.
            logger.error("chain registry unreadable", [("error", "\(error)")])
            return false
        }
        reconcile(records)
        guard node.mayIngest else { return false }
        if !seeded, !seeds.isEmpty {
            let outcome = node.proposeAndApply(ChainRegistryCommand.seed(seeds.map(\.spec)).encoded(), timeoutMillis: 5000)
            logger.info("chain registry seeded from the config file", [("chains", seeds.map(\.spec.slug).joined(separator: ",")), ("outcome", "\(outcome)")])
            return true
        }
        guard let removing = records.first(where: { $0.state == .removing }) else { removal = nil; return false }
        let id = removing.spec.chainId
        if removal?.chainId != id {
            let left = (try? node.stateMachine.chainDataKeys(id)) ?? 0
            removal = (id, removing.purgedKeys + left, removing.purgedKeys, Date())
            logger.info("removing chain data", [("chain", removing.spec.slug), ("chainId", id), ("keysToDelete", left), ("keysPerStep", purgeKeysPerStep)])
        }
        let outcome = node.proposeAndApply(ChainRegistryCommand.purge(chainId: id, maxKeys: purgeKeysPerStep).encoded(), timeoutMillis: 10_000)
        if let r = removal, Date().timeIntervalSince(lastPurgeLog) > 2 {
            lastPurgeLog = Date()
            let done = removing.purgedKeys, seconds = Date().timeIntervalSince(r.started)
            let rate = seconds > 0 ? Double(done - min(done, r.startDeleted)) / seconds : 0
            let eta = rate > 0 ? Double(r.total - min(r.total, done)) / rate : -1
            logger.info("removing chain data", [("chain", removing.spec.slug), ("chainId", id), ("keysDeleted", done), ("keysTotal", r.total),
                                                ("keysPerSecond", rate.rounded()), ("etaSeconds", eta.rounded()), ("outcome", "\(outcome)")])
        }
        return outcome == .applied
    }

    /// Starts indexers for active chains that have none, stops those of chains that were
    /// paused, removed or changed (a changed chain restarts with its new settings).
    func reconcile(_ records: [ChainRecord]) {
        let wanted = Dictionary(uniqueKeysWithValues: records.filter { $0.state == .active }.map { ($0.spec.chainId, $0.spec) })
        var problems = [UInt64: String]()
        let stale: [Running] = state.withLock { s in
            // Shown at once: stopping an indexer can wait for an upstream call to end.
            s.records = records
            let gone = s.running.filter { id, r in wanted[id] != r.spec }
            for id in gone.keys { s.running[id] = nil }
            return Array(gone.values)
        }
        for r in stale {
            logger.info("stopping chain indexer", [("chain", r.spec.slug), ("chainId", r.spec.chainId)])
            if !r.indexer.stop(waitingSeconds: 10) { logger.warn("indexer did not stop in time", [("chain", r.spec.slug)]) }
        }
        let running = state.withLock { Set($0.running.keys) }
        for (id, spec) in wanted.sorted(by: { $0.key < $1.key }) where !running.contains(id) {
            if id == fixedChain {
                problems[id] = "chain \(id) is the config file's \"chain\", which runs outside the registry; not started twice"
                continue
            }
            do {
                let config = try ChainSeed.config(of: spec)
                // Warned where any registry chain starts, seeded or added at runtime.
                for u in config.upstreams where u.tls?.insecureSkipVerify == true {
                    logger.warn("upstream_tls_verification_disabled", [("chain", spec.slug), ("upstream", u.redacted), ("why", "insecureSkipVerify is set: any certificate is accepted (test setups only)")])
                }
                let ix = Indexer(config: config, index: node.stateMachine.chain, host: node, logger: logger.with("chain", spec.slug))
                ix.start()
                logger.info("started chain indexer", [("chain", spec.slug), ("chainId", id), ("adapter", config.adapter.name)])
                state.withLock { $0.running[id] = Running(spec: spec, indexer: ix) }
            } catch {
                problems[id] = "\(error)"
            }
        }
        state.withLock { s in
            for (id, why) in problems where s.problems[id] != why { logger.error("chain not started", [("chainId", id), ("problem", why)]) }
            s.problems = problems
        }
    }
}
