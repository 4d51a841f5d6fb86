import Storage

/// Replicated chain state that does not decode: a value of the wrong length, a block record
/// that is not JSON. It is never read as "absent", "empty" or "zero" — that would make the
/// indexer start over or a balance read 0 — but surfaces as this error, which stops apply
/// and fails the read, naming the table and key.
public struct CorruptIndex: CorruptRecord, Equatable, Sendable {
    public let table: String
    public let key: String
    public let problem: String
    public var description: String { "corrupt replicated state in \(table) at \(key): \(problem)" }
    public init(table: String, key: String, problem: String) { self.table = table; self.key = key; self.problem = problem }
}
