import Upstream
import Chain
import Foundation
import ChainIndex
import ChainFollower
import PeerTransport
import RPC

/// How /status renders the typed snapshots it is built from. The field names are an API:
/// `infrastack status`, cluster/status, bench/ and the Python tests read them, so a field is
/// added, never renamed or removed.

func jsonNumber(_ v: some BinaryInteger) -> JSONValue { .number(String(v)) }

extension RaftCounters {
    var statusJSON: JSONValue {
        .object(["readies": jsonNumber(readies), "entriesPersisted": jsonNumber(entriesPersisted),
                 "messagesSent": jsonNumber(messagesSent), "entriesApplied": jsonNumber(entriesApplied),
                 "persistMicros": jsonNumber(persistMicros), "applyMicros": jsonNumber(applyMicros),
                 "leaderChanges": jsonNumber(leaderChanges), "logSyncs": jsonNumber(logSyncs),
                 "logBytesSynced": jsonNumber(logBytesSynced),
                 "persistCPUMicros": jsonNumber(persistCPUMicros), "applyCPUMicros": jsonNumber(applyCPUMicros),
                 "snapshotsInstalled": jsonNumber(snapshotsInstalled), "snapshotsSerialized": jsonNumber(snapshotsSerialized),
                 "compactions": jsonNumber(compactions)])
    }
}

/// One entry of /status `peers`: replication progress from Raft, the link from the transport.
struct PeerStatusEntry {
    var id: UInt64
    var matchIndex: UInt64?
    var lastIndex: UInt64
    /// nil when the transport does not know the peer (yet).
    var link: PeerStatus?

    var statusJSON: JSONValue {
        var p = JSONObject()
        p["id"] = jsonNumber(id)
        p["matchIndex"] = matchIndex.map(jsonNumber) ?? .null
        p["lag"] = matchIndex.map { jsonNumber(lastIndex > $0 ? lastIndex - $0 : 0) } ?? .null
        if let s = link {
            p["connected"] = .bool(s.connected)
            p["queuedMessages"] = jsonNumber(s.queuedMessages)
            p["droppedMessages"] = jsonNumber(s.droppedMessages)
            p["state"] = .string(s.linkState.rawValue)
            p["inboundConnected"] = .bool(s.inboundConnected)
            p["queuedBytes"] = jsonNumber(s.queuedBytes)
            p["sentMessages"] = jsonNumber(s.sentMessages)
            p["receivedMessages"] = jsonNumber(s.receivedMessages)
            p["sentBytes"] = jsonNumber(s.sentBytes)
            p["receivedBytes"] = jsonNumber(s.receivedBytes)
            p["connections"] = jsonNumber(s.connectionsEstablished)
            p["reconnectAttempts"] = jsonNumber(s.reconnectAttempts)
            p["lastError"] = s.lastError.map { .string($0) } ?? .null
        }
        return .object(p)
    }
}

extension Indexer.Status {
    /// Everything but what the node adds (chain id, applied head).
    var statusFields: JSONObject {
        func num(_ v: UInt64?) -> JSONValue { v.map(jsonNumber) ?? .null }
        func dbl(_ v: Double?) -> JSONValue { v.map { .number(String(format: "%.2f", $0)) } ?? .null }
        var i = JSONObject()
        i["state"] = .string(state.description)
        i["stateKind"] = .string(state.kind.rawValue)
        i["upstream"] = .string(upstream)
        i["upstreamHead"] = num(upstreamHead)
        i["indexedHead"] = num(indexedHead)
        i["lagBlocks"] = num(lagBlocks)
        i["lagSeconds"] = dbl(lagSeconds)
        i["blocksPerSecond"] = dbl(blocksPerSecond)
        i["txPerSecond"] = dbl(txPerSecond)
        i["etaSeconds"] = dbl(etaSeconds)
        i["blocksIndexed"] = num(blocksIndexed)
        i["reorgs"] = jsonNumber(reorgs)
        i["refusedBlocks"] = jsonNumber(refusedBlocks)
        i["stateSource"] = .string(stateSource?.rawValue ?? "unknown")
        i["headSignal"] = .string(headSignal)
        i["lastAlert"] = lastAlert.map { .string($0) } ?? .null
        i["cpuMicros"] = .object(["fetch": jsonNumber(stageCPU.fetchMicros), "verify": jsonNumber(stageCPU.verifyMicros),
                                  "encode": jsonNumber(stageCPU.encodeMicros)])
        // What each upstream turned out to offer (hosted providers differ); URLs redacted.
        i["upstreams"] = .array(upstreams.map(\.statusJSON))
        return i
    }
}

extension UpstreamProfile {
    var statusJSON: JSONValue {
        var u = JSONObject()
        u["url"] = .string(url)
        u["receipts"] = .string(receipts.rawValue)
        u["stateSource"] = .string(stateSource.rawValue)
        u["maxBatch"] = maxBatch.map(jsonNumber) ?? .null
        u["rateLimited"] = jsonNumber(rateLimited)
        u["missingMethods"] = .array(missingMethods.map { .string($0) })
        u["chainVerified"] = .bool(chainVerified)
        u["refused"] = refused.map { .string($0) } ?? .null
        u["lastError"] = lastError.map { .string($0) } ?? .null
        return .object(u)
    }
}

extension EthAPI.Status {
    var statusJSON: JSONValue {
        var methods = JSONObject()
        for (name, c) in calls.methods.sorted(by: { $0.key < $1.key }) {
            methods[name] = .object(["calls": jsonNumber(c.calls), "errors": jsonNumber(c.errors)])
        }
        return .object(["requests": jsonNumber(calls.requests), "errors": jsonNumber(calls.errors), "methods": .object(methods),
                        "filters": jsonNumber(filters), "subscriptions": jsonNumber(subscriptions),
                        "forwarding": .bool(forwarding), "rejectedUpstreamProofs": jsonNumber(rejectedUpstreamProofs)])
    }
}

/// One entry of /status `chains`: a registry chain, what runs for it here, its applied head.
struct ChainStatusEntry {
    var run: ChainRunStatus
    var appliedHead: ChainIndex.Head?
    var finality: ChainView.Finality?

    /// The entry with the chain's head and finality read from one snapshot of `index`.
    init(run: ChainRunStatus, index: ChainIndex) {
        self.run = run
        let cid = run.record.spec.chainId
        let read = try? index.view { v in (try v.head(cid), try v.finality(cid)) }
        appliedHead = read?.0 ?? nil
        finality = read?.1 ?? nil
    }

    var statusJSON: JSONValue {
        let spec = run.record.spec
        var c = JSONObject()
        c["chainId"] = jsonNumber(spec.chainId)
        c["slug"] = .string(spec.slug)
        c["parent"] = spec.parent.map(jsonNumber) ?? .null
        c["adapter"] = (try? JSON.parse(spec.settings))?.objectValue?["adapter"] ?? .string("ethereum")
        c["lifecycle"] = .string(run.record.state.name)
        if run.record.state == .removing { c["keysDeleted"] = jsonNumber(run.record.purgedKeys) }
        c["problem"] = run.problem.map { .string($0) } ?? .null
        if let h = appliedHead {
            c["appliedHead"] = jsonNumber(h.number)
            c["appliedHeadHash"] = .string(h.hash.hex)
        } else {
            c["appliedHead"] = .null
        }
        c["safeHead"] = finality?.safe.map(jsonNumber) ?? .null
        c["finalizedHead"] = finality?.finalized.map(jsonNumber) ?? .null
        c["finalityLagBlocks"] = finality?.lagBlocks.map(jsonNumber) ?? .null
        c["finalityLagSeconds"] = finality?.lagSeconds.map(jsonNumber) ?? .null
        if let ix = run.indexer {
            c["indexerRunning"] = .bool(true)
            for (k, v) in ix.statusFields.pairs { c[k] = v }
        } else {
            c["indexerRunning"] = .bool(false)
        }
        return .object(c)
    }
}
