import Upstream
import Chain
import Foundation
import ChainIndex
import Storage
import Synchronization
import Telemetry
import Testing
@testable import ChainFollower

/// A host whose replicated log never applies anything, answering as told.
final class RefusingHost: IndexerHost, @unchecked Sendable {
    let outcome: ReplicationOutcome
    let proposals = Mutex(0)
    init(_ outcome: ReplicationOutcome) { self.outcome = outcome }
    var mayIngest: Bool { true }
    func proposeAndApply(_ entry: [UInt8], timeoutMillis: Int) -> ReplicationOutcome {
        proposals.withLock { $0 += 1 }
        return outcome
    }
}

@Suite(.serialized) struct IndexerStateTests {
    /// `infrastack status` and the operator docs show these texts; the enum keeps them.
    @Test func statesReadAsTheyAlwaysHaveInStatus() {
        let refusal = ProposalNotApplied(proposal: .blocks, outcome: .notLeader(leader: 2))
        let rewind = ProposalNotApplied(proposal: .rewind, outcome: .timedOut(afterMillis: 30_000))
        let cases: [(IndexerState, String, IndexerState.Kind)] = [
            (.idle, "idle", .idle),
            (.notLeader, "standby (not leader)", .notLeader),
            (.following, "following", .following),
            (.catchingUp, "ingesting", .catchingUp),
            (.backoff(.upstream("connection refused")), "retrying: connection refused", .backoff),
            (.backoff(.replicatedLog(refusal)), "retrying: proposal not applied: not the leader (leader 2)", .backoff),
            (.backoff(.replicatedLog(rewind)), "retrying: rewind not applied: not applied within 30000 ms", .backoff),
            (.halted(.wrongChainId), "halted: wrong chain id", .halted),
            (.halted(.reorgDeeperThanLimit), "halted: reorg deeper than maxReorgDepth", .halted),
        ]
        for (state, text, kind) in cases {
            #expect(state.description == text)
            #expect(state.kind == kind)
        }
        #expect(Indexer.Status().state == .idle && Indexer.Status().stateSource == nil)
        #expect(Indexer.StateMode(rawValue: "tracer") == .tracer && Indexer.StateMode(rawValue: "trace") == nil)
    }

    /// A proposal the log does not apply is the log's doing: the indexer backs off naming the
    /// outcome, and neither its log nor the upstream's profile blames the upstream.
    @Test func aRefusedProposalIsNotAnUpstreamFailure() throws {
        let sim = try SimChainProcess(port: 24413, arguments: ["--txs-per-block", "2", "--pregenerate", "4", "--block-time-ms", "0"])
        defer { sim.stop() }
        let env = try Environment(path: NSTemporaryDirectory() + "refused-\(UUID().uuidString.prefix(8))")
        let index = try ChainIndex(env: env)
        let host = RefusingHost(.unavailable("disk alarm: no space left on device"))
        var cfg = Indexer.Config(chainId: IndexerTests.chainId, adapter: EthereumAdapter(), upstreams: [UpstreamEndpoint(url: sim.url)])
        cfg.pollMillis = 20
        let sink = Logger.Sink(capture: true)
        let ix = Indexer(config: cfg, index: index, host: host, logger: Logger(component: "indexer", sink: sink))
        defer { ix.stop() }
        ix.start()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ix.status.state.kind != .backoff { usleep(20_000) }
        let expected = IndexerState.backoff(.replicatedLog(ProposalNotApplied(proposal: .blocks, outcome: .unavailable("disk alarm: no space left on device"))))
        #expect(ix.status.state == expected, "\(ix.status.state)")
        #expect(ix.status.state.description == "retrying: proposal not applied: disk alarm: no space left on device")
        #expect(host.proposals.withLock { $0 } >= 1)
        #expect(try index.view { try $0.head(IndexerTests.chainId) } == nil, "nothing was applied")
        #expect(ix.status.upstreams.allSatisfy { $0.lastError == nil }, "the upstream served every request")
        #expect(sink.lines.contains { $0.contains("indexer proposal not applied") && $0.contains("disk alarm") })
        #expect(!sink.lines.contains { $0.contains("indexer step failed") }, "no upstream failure was logged")
    }
}
