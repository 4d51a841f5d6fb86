/// One slot of the replicated log.
///
/// `normal` entries carry application data; an empty `normal` entry is the no-op a new
/// leader appends to commit entries of earlier terms. `confChange` entries carry an
/// encoded `ConfChange` and take effect as soon as they are appended (see `ConfChange`).
public struct Entry: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case normal
        case confChange
    }

    public var term: UInt64
    public var index: UInt64
    public var kind: Kind
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: Kind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Size used for flow control: payload plus a fixed header allowance.
    var byteSize: Int { data.count + 24 }
}
