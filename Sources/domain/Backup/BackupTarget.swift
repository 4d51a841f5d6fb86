import Foundation
import ObjectStore

/// Where backups and shipped log segments are kept: a directory (a mounted volume, an NFS
/// share) or an S3 bucket and prefix. Names are relative paths with `/` separators
/// (`backups/20261207T120000Z-00000000000000001234/manifest.json`); both kinds store them
/// under the same names, so a backup copied from one to the other restores the same.
public protocol BackupTarget: Sendable, CustomStringConvertible {
    /// Stores a local file under `name`, replacing what was there. The object appears
    /// whole or not at all (a temporary name renamed, or S3's atomic PUT).
    func put(file path: String, as name: String, progress: (Int, Int) -> Void) throws
    func put(bytes: [UInt8], as name: String) throws
    /// nil when there is no such object.
    func get(_ name: String) throws -> [UInt8]?
    /// Copies the object into a local file without holding it in memory, reporting bytes
    /// done of total; false when there is no such object.
    func download(_ name: String, to path: String, progress: (Int, Int) -> Void) throws -> Bool
    /// Every name under `prefix`, sorted.
    func list(prefix: String) throws -> [String]
    func delete(_ name: String) throws
}

public struct BackupTargetProblem: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum BackupTargets {
    /// `s3://bucket/prefix` (configured as the AWS CLI is: `AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, credentials in the environment or `~/.aws/credentials`) or a
    /// directory path.
    public static func open(_ spec: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any BackupTarget {
        if spec.hasPrefix("s3://") {
            guard let location = S3Location(parsing: spec) else {
                throw BackupTargetProblem("\(spec): not an S3 location (s3://bucket/prefix with a valid bucket name)")
            }
            let config: S3Config
            do { config = try S3Config.fromEnvironment(environment) } catch { throw BackupTargetProblem("\(spec): \(error)") }
            return S3Target(client: S3Client(config), location: location)
        }
        guard !spec.isEmpty, !spec.contains("://") else {
            throw BackupTargetProblem("'\(spec)': expected a directory path or s3://bucket/prefix")
        }
        return DirectoryTarget(root: spec)
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0.isEmpty }) else {
            throw BackupTargetProblem("'\(name)' is not a relative object name")
        }
    }
}

/// Backups in a local directory. Files are written under a temporary name, synced and
/// renamed, so a crash mid-write never leaves a truncated file under the real name.
public struct DirectoryTarget: BackupTarget {
    public let root: String
    public init(root: String) { self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root }
    public var description: String { root }

    func path(_ name: String) throws -> String { try BackupTargets.checkName(name); return root + "/" + name }

    public func put(file source: String, as name: String, progress: (Int, Int) -> Void) throws {
        let dest = try path(name)
        try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let tmp = dest + ".partial"
        try? FileManager.default.removeItem(atPath: tmp)
        guard let input = FileHandle(forReadingAtPath: source) else { throw BackupTargetProblem("cannot read \(source)") }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let output = FileHandle(forWritingAtPath: tmp) else {
            throw BackupTargetProblem("cannot create \(tmp)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: source)[.size] as? NSNumber)?.intValue ?? 0
        var copied = 0
        do {
            while true {
                let chunk = input.readData(ofLength: 8 << 20)
                if chunk.isEmpty { break }
                try output.write(contentsOf: chunk)
                copied += chunk.count
                progress(copied, size)
            }
            try output.synchronize()
            try output.close()
        } catch {
            try? output.close()
            try? FileManager.default.removeItem(atPath: tmp)
            throw BackupTargetProblem("writing \(dest): \(error)")
        }
        try rename(tmp, dest)
    }

    public func put(bytes: [UInt8], as name: String) throws {
        let dest = try path(name)
        try FileManager.default.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let tmp = dest + ".partial"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes)), let h = FileHandle(forWritingAtPath: tmp) else {
            throw BackupTargetProblem("cannot write \(tmp)")
        }
        try h.synchronize()
        try h.close()
        try rename(tmp, dest)
    }

    private func rename(_ from: String, _ to: String) throws {
        guard Foundation.rename(from, to) == 0 else { throw BackupTargetProblem("rename \(from) to \(to): \(String(cString: strerror(errno)))") }
    }

    public func get(_ name: String) throws -> [UInt8]? {
        let p = try path(name)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        guard let d = FileManager.default.contents(atPath: p) else { throw BackupTargetProblem("cannot read \(p)") }
        return Array(d)
    }

    public func download(_ name: String, to dest: String, progress: (Int, Int) -> Void) throws -> Bool {
        let p = try path(name)
        guard FileManager.default.fileExists(atPath: p) else { return false }
        try? FileManager.default.removeItem(atPath: dest)
        do { try FileManager.default.copyItem(atPath: p, toPath: dest) } catch { throw BackupTargetProblem("copy \(p) to \(dest): \(error)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: dest)[.size] as? NSNumber)?.intValue ?? 0
        progress(size, size)
        return true
    }

    public func list(prefix: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out = [String]()
        while let rel = walker.nextObject() as? String {
            var isDir: ObjCBool = false
            guard rel.hasPrefix(prefix), !rel.hasSuffix(".partial"),
                  FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue else { continue }
            out.append(rel)
        }
        return out.sorted()
    }

    public func delete(_ name: String) throws {
        let p = try path(name)
        if FileManager.default.fileExists(atPath: p) { try FileManager.default.removeItem(atPath: p) }
        // An emptied backup directory goes too, so listings show only what remains.
        let dir = (p as NSString).deletingLastPathComponent
        if dir != root, (try? FileManager.default.contentsOfDirectory(atPath: dir))?.isEmpty == true { try? FileManager.default.removeItem(atPath: dir) }
    }
}

/// Backups under an S3 prefix.
public struct S3Target: BackupTarget {
    public let client: S3Client
    public let location: S3Location
    public init(client: S3Client, location: S3Location) { self.client = client; self.location = location }
    public var description: String { location.description }

    func key(_ name: String) throws -> String {
        try BackupTargets.checkName(name)
        return location.prefix.isEmpty ? name : (location.prefix.hasSuffix("/") ? location.prefix : location.prefix + "/") + name
    }

    public func put(file path: String, as name: String, progress: (Int, Int) -> Void) throws {
        try client.putFile(location.bucket, try key(name), path: path, progress: progress)
    }

    public func put(bytes: [UInt8], as name: String) throws { try client.put(location.bucket, try key(name), bytes) }

    public func get(_ name: String) throws -> [UInt8]? {
        let k = try key(name)
        guard try client.head(location.bucket, k) != nil else { return nil }
        return try client.get(location.bucket, k)
    }

    public func download(_ name: String, to path: String, progress: (Int, Int) -> Void) throws -> Bool {
        try client.getFile(location.bucket, try key(name), to: path, progress: progress)
    }

    public func list(prefix: String) throws -> [String] {
        let base = try key("x").dropLast()
        return try client.list(location.bucket, prefix: String(base) + prefix).map { String($0.key.dropFirst(base.count)) }.sorted()
    }

    public func delete(_ name: String) throws { try client.delete(location.bucket, try key(name)) }
}
