import Consensus
import RaftDriver

/// Fault events: partitions, crashes and restarts, leadership churn and transfer, and
/// membership changes, started and ended as the schedule says.
extension Simulation {
    /// Start and end fault events. Crashes start in the crash phase; everything else (and
    /// every ending) at the start of the tick.
    func updateFaults(crashPhase: Bool) {
        var changed = false
        if !crashPhase {
            var stillActive: [(event: Int, resolved: Int)] = []
            for item in active {
                let event = events[item.event]
                if tick >= event.start + event.duration {
                    end(item)
                    changed = true
                } else {
                    stillActive.append(item)
                }
            }
            active = stillActive
            changed = updateChurn() || changed
            requestMoreMembershipChanges()
        }
        for index in events.indices where events[index].start == tick && isKept(index) {
            let isCrash: Bool
            switch events[index].kind {
            case .crash, .crashLeader: isCrash = true
            default: isCrash = false
            }
            guard isCrash == crashPhase else { continue }
            if let resolved = begin(index) {
                active.append((index, resolved))
                changed = true
            }
        }
        if changed { recomputeLinks() }
    }

    /// While a churn event is active, now and then cut the current leader off for a few
    /// ticks. Returns true if the set of isolated nodes changed.
    func updateChurn() -> Bool {
        let before = churnIsolated.count
        churnIsolated.removeAll { $0.until <= tick }
        var changed = churnIsolated.count != before
        let churning = active.contains { if case .leaderChurn = events[$0.event].kind { return true } else { return false } }
        if churning, clientRNG.chance(1, in: 4), let leader = currentLeader(),
           !churnIsolated.contains(where: { $0.position == leader }) {
            churnIsolated.append((leader, tick + 1 + clientRNG.below(6)))
            note("churn: isolate leader \(leader + 1)")
            changed = true
        }
        return changed
    }

    /// During a membership event, a client asks for another change every few ticks, often
    /// while the previous one is still uncommitted — which the leader must refuse.
    func requestMoreMembershipChanges() {
        for item in active {
            let event = events[item.event]
            guard case .membershipChange = event.kind, tick > event.start, (tick - event.start) % 6 == 0 else { continue }
            changeMembership()
        }
    }

    func isKept(_ index: Int) -> Bool { options.keptEvents?.contains(index) ?? true }

    /// Start event `index`; returns what it resolved to (a node position or -1), or nil if
    /// it does not apply now.
    func begin(_ index: Int) -> Int? {
        let event = events[index]
        switch event.kind {
        case .symmetricPartition, .oneWay, .bridge, .leaderChurn, .mute, .deaf, .hold:
            note("start \(event)")
            return -1
        case .isolateLeader:
            guard let leader = currentLeader() else { return nil }
            note("start isolate leader \(leader + 1) for \(event.duration) ticks\(event.atSend ? " (cut at send)" : "")")
            return leader
        case .staleLeader:
            guard let leader = currentLeader() else { return nil }
            note("start stale leader \(leader + 1): unheard, its inbox held for \(event.duration) ticks")
            return leader
        case .replayStale(let count):
            let replayed = network.replayArchived(count, at: tick, rng: &networkRNG)
            note("replay \(replayed) old messages")
            return nil
        case .crash(let node, let stage):
            return crash(node, at: stage, byEvent: index)
        case .crashLeader(let stage):
            guard let leader = currentLeader() else { return nil }
            return crash(leader, at: stage, byEvent: index)
        case .transferLeadership:
            guard let leader = currentLeader() else { return nil }
            let voters = drivers[leader]!.core.configuration.voters.filter { $0 != NodeID(leader + 1) }
            guard !voters.isEmpty else { return nil }
            let target = voters[clientRNG.below(voters.count)]
            note("leader \(leader + 1) transfers leadership to \(target)")
            drivers[leader]!.core.transferLeadership(to: target)
            return nil
        case .membershipChange:
            changeMembership()
            return -1  // stays active: more changes are attempted while it lasts
        case .removeLeader:
            guard let leader = currentLeader(), drivers[leader]!.core.configuration.voters.count >= 2 else { return nil }
            proposeChange(ConfChange(.removeNode, node: NodeID(leader + 1)), at: leader)
            return nil
        }
    }

    func end(_ item: (event: Int, resolved: Int)) {
        let event = events[item.event]
        switch event.kind {
        case .crash, .crashLeader:
            if crashedBy[item.resolved] == item.event { restart(item.resolved) }
        case .hold, .staleLeader:
            let released = network.release(holder: item.event, at: tick, rng: &networkRNG)
            note("end \(event): \(released) held messages released")
        default:
            note("end \(event)")
        }
    }

    /// Decide that `position` crashes this tick at `stage` of carrying out its Ready.
    func crash(_ position: Int, at stage: ReadyStage, byEvent event: Int) -> Int? {
        guard drivers[position] != nil, crashing[position] == nil else { return nil }
        crashing[position] = stage
        crashedBy[position] = event
        stats.crashes += 1
        stats.crashesAt[stage, default: 0] += 1
        note("crash node \(position + 1) at stage \(stage.rawValue) for \(events[event].duration) ticks")
        return position
    }

    /// The process is gone: everything but its disk is lost.
    func goDown(_ position: Int) {
        drivers[position] = nil
        peersSeeConnectionLoss(position)
        pendingReads = pendingReads.filter { $0.value.node != position }
        machines[position] = SimStateMachine()
    }

    func restart(_ position: Int) {
        crashedBy[position] = nil
        incarnations[position] += 1
        drivers[position] = makeNode(position)
        if let machine = SimStateMachine.restore(from: disks[position].machineState) { machines[position] = machine }
        note("restart node \(position + 1) (term \(disks[position].hardState.term), vote \(disks[position].hardState.vote), \(disks[position].entries.count) entries after snapshot \(disks[position].snapshot.metadata.index))")
    }

    func changeMembership() {
        guard let leader = currentLeader() else { return }
        let conf = drivers[leader]!.core.configuration
        let change: ConfChange
        if let learner = conf.learners.first {
            change = ConfChange(.addVoter, node: learner)
        } else {
            let spares = (1...NodeID(drivers.count)).filter { !conf.isMember($0) }
            if !spares.isEmpty && (conf.voters.count < 3 || clientRNG.chance(1, in: 2)) {
                change = ConfChange(.addLearner, node: spares[clientRNG.below(spares.count)])
            } else {
                guard conf.voters.count >= 3 else { return }
                let others = conf.voters.filter { $0 != NodeID(leader + 1) }
                change = ConfChange(.removeNode, node: others[clientRNG.below(others.count)])
            }
        }
        proposeChange(change, at: leader)
    }

    func proposeChange(_ change: ConfChange, at leader: Int) {
        do {
            let index = try drivers[leader]!.core.proposeConfChange(change)
            note("leader \(leader + 1) proposes \(change.kind) \(change.node) at \(index)")
        } catch {
            note("leader \(leader + 1) refuses \(change.kind) \(change.node): \(error)")
        }
    }

    func recomputeLinks() {
        let count = drivers.count
        var atDelivery = Array(repeating: false, count: count * count)
        var atSend = Array(repeating: false, count: count * count)
        var holders: [Int?] = Array(repeating: nil, count: count * count)
        for item in active {
            let event = events[item.event]
            func cut(_ a: Int, _ b: Int) {
                guard a != b else { return }
                if event.atSend { atSend[a * count + b] = true } else { atDelivery[a * count + b] = true }
            }
            switch event.kind {
            case .symmetricPartition(let side):
                for a in 0..<count { for b in 0..<count where (side >> UInt32(a) & 1) != (side >> UInt32(b) & 1) { cut(a, b) } }
            case .oneWay(let from, let to):
                cut(from, to)
            case .isolateLeader:
                for other in 0..<count { cut(item.resolved, other); cut(other, item.resolved) }
            case .bridge(let side, let bridge):
                for a in 0..<count where a != bridge {
                    for b in 0..<count where b != bridge && (side >> UInt32(a) & 1) != (side >> UInt32(b) & 1) { cut(a, b) }
                }
            case .mute(let node):
                for other in 0..<count { cut(node, other) }
            case .deaf(let node):
                for other in 0..<count { cut(other, node) }
            case .hold(let from, let to):
                for other in 0..<count where other != from && (to == nil || to == other) {
                    holders[from * count + other] = holders[from * count + other] ?? item.event
                }
            case .staleLeader:
                for other in 0..<count where other != item.resolved {
                    atSend[item.resolved * count + other] = true
                    holders[other * count + item.resolved] = holders[other * count + item.resolved] ?? item.event
                }
            default:
                break
            }
        }
        for isolated in churnIsolated {
            for other in 0..<count where other != isolated.position {
                atDelivery[isolated.position * count + other] = true
                atDelivery[other * count + isolated.position] = true
            }
        }
        network.setBlocked(atDelivery: atDelivery, atSend: atSend)
        holdingEvent = holders
    }
}
