/// Snapshots: local compaction, chunked transfer to far-behind followers, installation.
extension Raft {
    // MARK: Local compaction

    /// The application's state at `index` (already applied) stands for everything up to
    /// `index`, which leaves the log. `data` nil: by reference — no bytes now; they are
    /// asked for if a follower ever needs this snapshot. With bytes at the index of the
    /// by-reference snapshot already held, they become its body.
    mutating func compact(index: UInt64, data: [UInt8]?) {
        precondition(index <= log.applied, "snapshot at \(index) beyond applied \(log.applied)")
        defer { if !snapshotByReference { snapshotDataWanted = false } }
        if index == log.snapshotIndex, snapshotByReference, let data {
            latestSnapshot.data = data
            resumeSnapshotSends()
            return
        }
        guard index > log.snapshotIndex else { return }
        let metadata = SnapshotMetadata(index: index, term: log.term(at: index)!, conf: confs.conf(at: index))
        latestSnapshot = Snapshot(metadata: metadata, data: data ?? [])
        log.compact(to: index)
        confs.compact(to: index)
        if data != nil { resumeSnapshotSends() }
        precondition(log.snapshotIndex == index, "the log was compacted to the snapshot")
    }

    /// The snapshot's bytes arrived: followers waiting for it get their first chunk.
    private mutating func resumeSnapshotSends() {
        guard role == .leader else { return }
        precondition(!snapshotByReference, "sending needs the snapshot's bytes")
        for k in progress.indices where progress[k].id != id && progress[k].state == .snapshot {
            sendSnapshotChunk(progressAt: k)
        }
    }

    // MARK: Leader side

    mutating func startSnapshot(progressAt k: Int) {
        progress[k].becomeSnapshot(index: latestSnapshot.metadata.index)
        sendSnapshotChunk(progressAt: k)
    }

    mutating func sendSnapshotChunk(progressAt k: Int) {
        if progress[k].snapshotIndex != latestSnapshot.metadata.index {
            // A newer snapshot replaced the one in transit: start over with it.
            progress[k].becomeSnapshot(index: latestSnapshot.metadata.index)
        }
        if snapshotByReference {
            // Only the reference is held: ask the application for the bytes; the chunk
            // goes out once they arrive (`compact`).
            snapshotDataWanted = true
            return
        }
        let data = latestSnapshot.data
        let offset = min(progress[k].snapshotOffset, data.count)
        let end = min(offset + config.snapshotChunkBytes, data.count)
        var chunkMessage = message(.snapshotChunk, to: progress[k].id)
        chunkMessage.snapshot = SnapshotChunk(
            metadata: latestSnapshot.metadata, offset: offset, totalSize: data.count, data: Array(data[offset..<end]))
        send(chunkMessage)
    }

    /// One chunk in flight per follower: an answer sends the next chunk only if it moved the
    /// follower forward. The answer to a duplicate (a heartbeat's resend, the network's
    /// copy) sends nothing, or every resend would start one more stream of the same chunks
    /// for the rest of the transfer.
    mutating func handleSnapshotChunkResponse(_ m: Message, progressAt k: Int) {
        guard progress[k].state == .snapshot, m.index == progress[k].snapshotIndex else { return }
        if m.reject {
            progress[k].snapshotOffset = 0
            sendSnapshotChunk(progressAt: k)
            return
        }
        let received = Int(m.rejectHint)
        guard received > progress[k].snapshotOffset else { return }
        progress[k].snapshotOffset = received
        progress[k].snapshotMoved = true
        if received < latestSnapshot.data.count {
            sendSnapshotChunk(progressAt: k)
        }
        // Once the last chunk is in, the follower answers with an append response.
    }

    // MARK: Follower side

    /// Reserved up front for an incoming snapshot at most; a larger one grows as it arrives.
    static let maxReservedSnapshotBytes = 16 << 30

    mutating func handleSnapshotChunk(_ m: Message) {
        guard let chunk = m.snapshot else { return }
        let metadata = chunk.metadata
        if metadata.index <= log.committed {
            // We already have everything it covers.
            incomingSnapshot = nil
            var reply = message(.appendResponse, to: m.from)
            reply.index = log.committed
            send(reply)
            return
        }
        if chunk.offset == 0 && incomingSnapshot?.metadata != metadata {
            // Room for the whole snapshot at once: growing by doubling copies it repeatedly.
            var data = [UInt8]()
            data.reserveCapacity(max(0, min(chunk.totalSize, Self.maxReservedSnapshotBytes)))
            incomingSnapshot = (metadata, data, chunk.totalSize)
        }
        var reply = message(.snapshotChunkResponse, to: m.from)
        reply.index = metadata.index
        guard incomingSnapshot?.metadata == metadata else {
            reply.reject = true  // a chunk of a snapshot we are not receiving: restart
            send(reply)
            return
        }
        // Taken out of `incomingSnapshot` before appending: a second reference would make
        // every chunk copy all the bytes received so far (quadratic in the snapshot's size).
        var incoming = incomingSnapshot.take()!
        if chunk.offset == incoming.data.count {
            incoming.data.append(contentsOf: chunk.data)
        }
        if incoming.data.count >= chunk.totalSize {
            install(Snapshot(metadata: metadata, data: incoming.data))
            var done = message(.appendResponse, to: m.from)
            done.index = metadata.index
            send(done)
            return
        }
        reply.rejectHint = UInt64(incoming.data.count)
        incomingSnapshot = incoming
        precondition(incomingSnapshot!.data.count < chunk.totalSize, "a complete snapshot is installed, not kept")
        send(reply)
    }

    /// Adopt a complete snapshot from the leader.
    mutating func install(_ snapshot: Snapshot) {
        let metadata = snapshot.metadata
        if log.matches(index: metadata.index, term: metadata.term) {
            // Our log already contains the snapshot's last entry, so it agrees with the
            // leader up to there: just learn the commit and keep the suffix.
            log.commit(to: metadata.index)
            return
        }
        precondition(role != .leader, "leader replacing its own log with a snapshot")
        log.restore(index: metadata.index, term: metadata.term)
        confs.reset(base: metadata.conf)
        // Kept by reference, as after a local compaction: once installed, the application's
        // state is the body (holding the bytes too kept a 2.6 GB snapshot in a follower's
        // memory for good). The Ready carries them to the log store and the application.
        latestSnapshot = Snapshot(metadata: metadata, data: [])
        snapshotToInstall = snapshot
        precondition(snapshotByReference && snapshotToInstall!.data.count == snapshot.data.count, "the bytes travel in the Ready only")
    }
}
