import Foundation

/// What a backup holds, written last (its presence marks the backup complete): where the
/// copy came from, the replicated state it is (applied index, the term of that entry, the
/// state digest), the chains' heads, the Raft membership at that index and a SHA-256 of
/// every file. Restore checks every field it can against the files.
public struct BackupManifest: Codable, Equatable, Sendable {
    /// Readers refuse a manifest of a newer format rather than misread it.
    public static let currentFormat = 1
    public var format: Int
    public var clusterId: String
    public var nodeId: UInt64
    /// Milliseconds since the epoch when the copy was taken.
    public var createdAtMillis: UInt64
    public var appliedIndex: UInt64
    /// The term of the entry at `appliedIndex` (0 for an empty state).
    public var appliedTerm: UInt64
    /// The node's Raft term when the copy was taken.
    public var raftTerm: UInt64
    public var stateDigest: String
    public var voters: [UInt64]
    public var learners: [UInt64]
    public var chains: [Chain]
    public var files: [File]

    public struct Chain: Codable, Equatable, Sendable {
        public var chainId: UInt64
        public var head: UInt64
        public var hash: String
    }

    public struct File: Codable, Equatable, Sendable {
        public var name: String
        public var bytes: Int
        public var sha256: String
    }

    /// The directory name of a backup: sortable by time, and the applied index in it.
    public var name: String { Self.name(createdAtMillis: createdAtMillis, appliedIndex: appliedIndex) }

    public static func name(createdAtMillis: UInt64, appliedIndex: UInt64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let index = String(appliedIndex)
        return f.string(from: Date(timeIntervalSince1970: Double(createdAtMillis) / 1000)) + "-" + String(repeating: "0", count: max(0, 20 - index.count)) + index
    }

    public func encoded() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array((try? e.encode(self)) ?? Data()) + [0x0A]
    }

    public static func decode(_ bytes: [UInt8], what: String) throws -> BackupManifest {
        let m: BackupManifest
        do { m = try JSONDecoder().decode(BackupManifest.self, from: Data(bytes)) } catch {
            throw BackupTargetProblem("\(what): not a backup manifest (\(error))")
        }
        guard m.format <= currentFormat else {
            throw BackupTargetProblem("\(what): format \(m.format) is newer than this binary reads (\(currentFormat)); restore with a newer infrastack")
        }
        guard m.stateDigest.count == 64, m.files.contains(where: { $0.name == "data.mdb" }) else {
            throw BackupTargetProblem("\(what): a manifest needs a 32-byte stateDigest and the file data.mdb")
        }
        return m
    }
}
