import Consensus

/// Runs a transcript's commands against a `ScriptedCluster` (the production driver over
/// fake disks and a message queue) and returns what each printed: every step of every
/// Ready (persist, send, install, apply, reads) and every message lost in delivery.
///
/// Commands (ids are node ids; `key=value` options):
///   cluster voters=N [spares=N] [pre-vote=on|off] [check-quorum=on|off] [election=T] [heartbeat=T] [chunk=B] [max-message=B]
///   campaign ID · tick ID [N] · deliver [to=ID,ID] · stabilize
///   propose ID TEXT · add-learner ID NODE · add-voter ID NODE · remove ID NODE
///   read-index ID CONTEXT · transfer FROM TO · compact ID
///   cut A B · cut-one-way FROM TO · isolate ID · heal · crash ID · restart ID
///   drop [from=ID] [to=ID] [kind=KIND] · in-flight
///   inject FROM TO KIND term=T [index=I] [log-term=T] [commit=C] [reject=on] [context=X] [hint=I] [hint-term=T]
///   status [ID...] · log ID
public final class TranscriptRunner {
    public struct Failure: Error, CustomStringConvertible {
        public var why: String
        public var description: String { why }
    }

    private var cluster: ScriptedCluster?
    private var output: [String] = []

    public init() {}

    /// Runs one command; returns its output lines ("ok" when it printed nothing).
    public func run(_ command: String) throws(Failure) -> [String] {
        output = []
        var words = command.split(separator: " ").map(String.init)
        guard !words.isEmpty else { throw Failure(why: "empty command") }
        let name = words.removeFirst()
        var options: [String: String] = [:]
        var arguments: [String] = []
        for word in words {
            if let eq = word.firstIndex(of: "=") { options[String(word[..<eq])] = String(word[word.index(after: eq)...]) } else { arguments.append(word) }
        }
        try perform(name, arguments, options)
        return output.isEmpty ? ["ok"] : output
    }

    private func node(_ text: String?) throws(Failure) -> NodeID {
        guard let text, let id = NodeID(text), id >= 1 else { throw Failure(why: "expected a node id, got \(text.map { "\"\($0)\"" } ?? "nothing")") }
        guard let cluster else { throw Failure(why: "no cluster yet: start with `cluster voters=N`") }
        guard cluster.ids.contains(id) else { throw Failure(why: "node \(id) is not in the cluster (ids \(cluster.ids))") }
        return id
    }

    private func running(_ text: String?) throws(Failure) -> NodeID {
        let id = try node(text)
        guard cluster!.isUp(id) else { throw Failure(why: "node \(id) is down") }
        return id
    }

    private func number(_ text: String?, _ what: String) throws(Failure) -> UInt64 {
        guard let text, let n = UInt64(text) else { throw Failure(why: "\(what) must be a non-negative integer, got \(text.map { "\"\($0)\"" } ?? "nothing")") }
        return n
    }

    private func flag(_ text: String?, _ what: String, default value: Bool) throws(Failure) -> Bool {
        switch text {
        case nil: return value
        case "on", "true": return true
        case "off", "false": return false
        default: throw Failure(why: "\(what) must be on or off, got \"\(text!)\"")
        }
    }

    private func expectArguments(_ arguments: [String], _ count: Int, _ usage: String) throws(Failure) {
        guard arguments.count == count else { throw Failure(why: "usage: \(usage)") }
    }

    private func allowOptions(_ options: [String: String], _ allowed: Set<String>, _ command: String) throws(Failure) {
        for key in options.keys.sorted() where !allowed.contains(key) {
            throw Failure(why: "\(command) has no option \(key) (options: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    private func perform(_ name: String, _ a: [String], _ o: [String: String]) throws(Failure) {
        if name != "cluster" && cluster == nil { throw Failure(why: "no cluster yet: start with `cluster voters=N`") }
        switch name {
        case "cluster":
            try allowOptions(o, ["voters", "spares", "pre-vote", "check-quorum", "election", "heartbeat", "chunk", "max-message"], name)
            let voters = Int(try number(o["voters"], "voters"))
            let spares = Int(try number(o["spares"] ?? "0", "spares"))
            guard (1...7).contains(voters), spares <= 4 else { throw Failure(why: "voters must be 1 to 7 and spares at most 4") }
            let preVote = try flag(o["pre-vote"], "pre-vote", default: true)
            let checkQuorum = try flag(o["check-quorum"], "check-quorum", default: true)
            let election = Int(try number(o["election"] ?? "10", "election"))
            let heartbeat = Int(try number(o["heartbeat"] ?? "1", "heartbeat"))
            let chunk = Int(try number(o["chunk"] ?? "65536", "chunk"))
            let maxMessage = Int(try number(o["max-message"] ?? "4096", "max-message"))
            guard heartbeat >= 1, election > heartbeat, chunk >= 1 else { throw Failure(why: "need heartbeat ≥ 1, election > heartbeat, chunk ≥ 1") }
            let made = ScriptedCluster(voters: voters, spares: spares) { config in
                config.preVote = preVote
                config.checkQuorum = checkQuorum
                config.electionTicks = election
                config.heartbeatTicks = heartbeat
                config.snapshotChunkBytes = chunk
                config.maxMessageBytes = maxMessage
            }
            made.observe = { [unowned self] line in self.output.append(line) }
            cluster = made
            output = made.ids.map { TranscriptFormat.status(made.status($0)) }
        case "campaign":
            try expectArguments(a, 1, "campaign ID")
            cluster!.campaign(try running(a[0]))
        case "tick":
            guard a.count == 1 || a.count == 2 else { throw Failure(why: "usage: tick ID [N]") }
            let id = try running(a[0])
            cluster!.tick(id, a.count == 2 ? Int(try number(a[1], "ticks")) : 1)
        case "deliver":
            try allowOptions(o, ["to"], name)
            var recipients: Set<NodeID>?
            if let list = o["to"] {
                recipients = []
                for item in list.split(separator: ",") { recipients!.insert(try node(String(item))) }
            }
            cluster!.deliverRound(to: recipients)
        case "stabilize":
            var rounds = 0
            while !cluster!.inFlight.isEmpty {
                guard rounds < 100 else { throw Failure(why: "still messages in flight after 100 rounds") }
                cluster!.deliverRound()
                rounds += 1
            }
        case "propose":
            try expectArguments(a, 2, "propose ID TEXT")
            do {
                let index = try cluster!.propose(try running(a[0]), Array(a[1].utf8))
                output.append("proposed at \(index)")
            } catch let error as ProposalError {
                output.append("refused: \(error)")
            } catch {
                throw error as! Failure
            }
        case "add-learner", "add-voter", "remove":
            try expectArguments(a, 2, "\(name) ID NODE")
            let kind: ConfChange.Kind = name == "add-learner" ? .addLearner : name == "add-voter" ? .addVoter : .removeNode
            let target = NodeID(try number(a[1], "node"))
            do {
                let index = try cluster!.proposeConfChange(try running(a[0]), ConfChange(kind, node: target))
                output.append("proposed at \(index)")
            } catch let error as ProposalError {
                output.append("refused: \(error)")
            } catch {
                throw error as! Failure
            }
        case "read-index":
            try expectArguments(a, 2, "read-index ID CONTEXT")
            if !cluster!.readIndex(try running(a[0]), context: try number(a[1], "context")) { output.append("refused: no leader known") }
        case "transfer":
            try expectArguments(a, 2, "transfer FROM TO")
            cluster!.transferLeadership(from: try running(a[0]), to: try node(a[1]))
        case "compact":
            try expectArguments(a, 1, "compact ID")
            let id = try running(a[0])
            cluster!.compact(id)
            output.append("\(id): snapshot at \(cluster!.persisted(id).snapshot.metadata.index)")
        case "cut":
            try expectArguments(a, 2, "cut A B")
            cluster!.cut(try node(a[0]), try node(a[1]))
        case "cut-one-way":
            try expectArguments(a, 2, "cut-one-way FROM TO")
            cluster!.cutOneWay(from: try node(a[0]), to: try node(a[1]))
        case "isolate":
            try expectArguments(a, 1, "isolate ID")
            cluster!.isolate(try node(a[0]))
        case "heal":
            cluster!.healNetwork()
        case "crash":
            try expectArguments(a, 1, "crash ID")
            cluster!.crash(try running(a[0]))
        case "restart":
            try expectArguments(a, 1, "restart ID")
            let id = try node(a[0])
            guard !cluster!.isUp(id) else { throw Failure(why: "node \(id) is running") }
            cluster!.restart(id)
            output.append(TranscriptFormat.status(cluster!.status(id)))
        case "drop":
            try allowOptions(o, ["from", "to", "kind"], name)
            let from = try o["from"].map { (t: String) throws(Failure) in try node(t) }
            let to = try o["to"].map { (t: String) throws(Failure) in try node(t) }
            let kind = try o["kind"].map { (t: String) throws(Failure) in try Self.kind(t) }
            let dropped = cluster!.drop { m in (from == nil || m.from == from) && (to == nil || m.to == to) && (kind == nil || m.kind == kind) }
            output = dropped.map { "dropped \(TranscriptFormat.message($0))" }
        case "in-flight":
            output = cluster!.inFlight.map(TranscriptFormat.message)
        case "inject":
            guard a.count == 3 else { throw Failure(why: "usage: inject FROM TO KIND term=T [index=] [log-term=] [commit=] [reject=on] [context=] [hint=] [hint-term=]") }
            try allowOptions(o, ["term", "index", "log-term", "commit", "reject", "context", "hint", "hint-term"], name)
            var m = Message(kind: try Self.kind(a[2]), from: try node(a[0]), to: try node(a[1]), term: try number(o["term"], "term"))
            m.index = try number(o["index"] ?? "0", "index")
            m.logTerm = try number(o["log-term"] ?? "0", "log-term")
            m.commit = try number(o["commit"] ?? "0", "commit")
            m.reject = try flag(o["reject"], "reject", default: false)
            m.context = try number(o["context"] ?? "0", "context")
            m.rejectHint = try number(o["hint"] ?? "0", "hint")
            m.hintTerm = try number(o["hint-term"] ?? "0", "hint-term")
            cluster!.inject(m)
            output.append("in flight: \(TranscriptFormat.message(m))")
        case "status":
            let ids = a.isEmpty ? cluster!.ids : try a.map { (t: String) throws(Failure) in try node(t) }
            output = ids.map { cluster!.isUp($0) ? TranscriptFormat.status(cluster!.status($0)) : "\($0): down" }
        case "log":
            try expectArguments(a, 1, "log ID")
            let disk = cluster!.persisted(try node(a[0]))
            output.append("snapshot \(disk.snapshot.metadata.index)/\(disk.snapshot.metadata.term), hard state term \(disk.hardState.term) vote \(disk.hardState.vote) commit \(disk.hardState.commit)")
            output.append("entries \(TranscriptFormat.entries(disk.entries))")
        default:
            throw Failure(why: "unknown command \"\(name)\"")
        }
    }

    static func kind(_ text: String) throws(Failure) -> Message.Kind {
        let all: [Message.Kind] = [.append, .appendResponse, .heartbeat, .heartbeatResponse, .requestVote, .voteResponse, .requestPreVote,
                                   .preVoteResponse, .snapshotChunk, .snapshotChunkResponse, .timeoutNow, .readIndex, .readIndexResponse]
        guard let kind = all.first(where: { "\($0)" == text }) else {
            throw Failure(why: "unknown message kind \"\(text)\" (kinds: \(all.map { "\($0)" }.joined(separator: ", ")))")
        }
        return kind
    }
}
