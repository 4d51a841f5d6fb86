/// Describes the point in the log a snapshot replaces: everything up to and including
/// `index` (whose term is `term`), and the configuration in force at that point.
public struct SnapshotMetadata: Equatable, Sendable {
    public var index: UInt64
    public var term: UInt64
    public var conf: ConfState

    public init(index: UInt64, term: UInt64, conf: ConfState) {
        self.index = index
        self.term = term
        self.conf = conf
    }
}

/// An application snapshot: opaque state-machine bytes plus where in the log they stand.
public struct Snapshot: Equatable, Sendable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}

/// One piece of a snapshot in transit. Chunks are sent one at a time and acknowledged, so a
/// large snapshot never occupies the link in a single message and a lost chunk costs only
/// itself.
public struct SnapshotChunk: Equatable, Sendable {
    public var metadata: SnapshotMetadata
    public var offset: Int
    public var totalSize: Int
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, offset: Int, totalSize: Int, data: [UInt8]) {
        self.metadata = metadata
        self.offset = offset
        self.totalSize = totalSize
        self.data = data
    }

    public var isLast: Bool { offset + data.count >= totalSize }
}
