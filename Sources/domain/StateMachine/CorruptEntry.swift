import Storage

/// A committed entry that does not decode: replicas stop at it rather than apply around it.
public struct CorruptEntry: CorruptRecord, Equatable, Sendable {
    public let index: UInt64
    public let term: UInt64
    public let problem: String
    public var description: String { "committed entry \(index) (term \(term)) does not decode: \(problem)" }
}
