import CLMDB

/// A named LMDB database (`MDB_dbi`). Obtain one from `Environment.table(_:)`; the handle
/// stays valid for the environment's lifetime and may be shared across threads.
public struct Table: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    let dbi: MDB_dbi

    public var description: String { "table '\(name)'" }
}
