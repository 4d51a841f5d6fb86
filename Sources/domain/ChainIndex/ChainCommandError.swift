import ByteCodec
import Chain

/// Why a replicated chain command cannot be applied as written. Both stop the replica (see
/// KVStateMachine): the entry is a bug or a newer node's format, and applying it with a
/// guessed meaning could make replicas diverge.
public enum ChainCommandError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Bytes that do not follow the format: truncated, wrong tag or version, impossible counts.
    case malformed(DecodeError)
    /// Well-formed state changes from a source this build does not know.
    case unknownStateDiffSource(String)

    public var description: String {
        switch self {
        case .malformed(let e): return e.description
        case .unknownStateDiffSource(let raw):
            let shown = raw.count > 64 ? "\(raw.prefix(64))…(\(raw.utf8.count) bytes)" : raw
            return "chain command: unknown state diff source \"\(shown)\" (known: \(StateDiffSource.allCases.map(\.rawValue).joined(separator: ", ")))"
        }
    }
}

/// Runs one stretch of the byte format, its failures reported as malformed.
func format<T>(_ body: () throws(DecodeError) -> T) throws(ChainCommandError) -> T {
    do { return try body() } catch { throw .malformed(error) }
}
