import Foundation
import Hashing

public struct FileDigestProblem: Error, CustomStringConvertible { public let description: String }

/// Size and SHA-256 (hex) of a file, read in 8 MiB pieces so a multi-gigabyte backup or
/// export chunk costs no memory; `progress` hears the bytes read so far. What backups and
/// exports record beside every object they store, and check when they read it back.
public func fileSHA256(_ path: String, progress: (Int) -> Void = { _ in }) throws -> (bytes: Int, sha256: String) {
    guard let h = FileHandle(forReadingAtPath: path) else { throw FileDigestProblem(description: "\(path): cannot open it") }
    defer { try? h.close() }
    var hasher = SHA256()
    var total = 0
    while true {
        let chunk = h.readData(ofLength: 8 << 20)
        if chunk.isEmpty { break }
        chunk.withUnsafeBytes { hasher.update($0) }
        total += chunk.count
        progress(total)
    }
    return (total, SigV4.hex(hasher.finalized()))
}
