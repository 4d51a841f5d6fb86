import Foundation
import ObjectStore

/// Where an export's chunks and manifest go. Chunks are made in a local file first
/// (`scratch`) and handed over finished, so a destination never holds half a chunk under
/// its final name.
public protocol ExportDestination: AnyObject, CustomStringConvertible {
    /// A directory for chunks being written.
    var scratch: String { get }
    /// An object's bytes; nil when there is none (small objects only: the manifest).
    func read(_ name: String) throws -> [UInt8]?
    /// Whether `name` holds exactly the chunk the manifest describes.
    func holds(_ name: String, bytes: Int, sha256: String) throws -> Bool
    /// Moves the finished local file `path` to `name`.
    func store(file path: String, as name: String) throws
    /// Replaces `name` with `bytes`, all or nothing.
    func write(_ bytes: [UInt8], as name: String) throws
}

public struct DestinationProblem: Error, CustomStringConvertible { public let description: String }

/// A local directory: chunks are renamed into place after an fsync, the manifest is
/// replaced by rename, and the directory is fsynced after each, so a crash leaves either
/// the old or the new file, never a torn one.
public final class DirectoryDestination: ExportDestination {
    public let directory: String
    public var scratch: String { directory }
    public var description: String { directory }

    public init(_ directory: String) throws {
        self.directory = directory
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw DestinationProblem(description: "--to \(directory): exists and is not a directory") }
        } else {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw DestinationProblem(description: "--to \(directory): cannot create it: \(error.localizedDescription)")
            }
        }
        guard FileManager.default.isWritableFile(atPath: directory) else { throw DestinationProblem(description: "--to \(directory): not writable") }
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    public func read(_ name: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path(name)) else { return nil }
        guard let d = FileManager.default.contents(atPath: path(name)) else { throw DestinationProblem(description: "\(path(name)): cannot read it") }
        return Array(d)
    }

    public func holds(_ name: String, bytes: Int, sha256: String) throws -> Bool {
        let p = path(name)
        guard let size = (try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? NSNumber, size.intValue == bytes else { return false }
        return try fileSHA256(p).sha256 == sha256
    }

    public func store(file: String, as name: String) throws {
        guard rename(file, path(name)) == 0 else { throw DestinationProblem(description: "\(path(name)): rename failed: \(String(cString: strerror(errno)))") }
        syncDirectory()
    }

    public func write(_ bytes: [UInt8], as name: String) throws {
        let tmp = path("." + name + ".partial")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DestinationProblem(description: "\(tmp): cannot create it: \(String(cString: strerror(errno)))") }
        var done = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok else { throw DestinationProblem(description: "\(tmp): write failed: \(String(cString: strerror(errno)))") }
        try store(file: tmp, as: name)
    }

    private func syncDirectory() {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// `s3://bucket/prefix`: chunks are uploaded whole (multipart when large) once finished,
/// so an object under a chunk's name is always complete. A chunk counts as held when its
/// object has the recorded size: checking the SHA-256 would mean downloading every chunk.
public final class S3Destination: ExportDestination {
    public let client: S3Client
    public let location: S3Location
    public let scratch: String
    public var description: String { location.description }

    public init(_ client: S3Client, _ location: S3Location) throws {
        self.client = client
        self.location = location
        scratch = NSTemporaryDirectory() + "infrastack-export-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do { try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            throw DestinationProblem(description: "\(scratch): cannot create a scratch directory for chunks: \(error.localizedDescription)")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: scratch) }

    public func key(_ name: String) -> String { location.prefix.isEmpty ? name : (location.prefix.hasSuffix("/") ? location.prefix : location.prefix + "/") + name }

    public func read(_ name: String) throws -> [UInt8]? {
        do { return try client.get(location.bucket, key(name)) } catch let e as S3Error where e.status == 404 { return nil }
    }

    public func holds(_ name: String, bytes: Int, sha256: String) throws -> Bool {
        try client.head(location.bucket, key(name)) == bytes
    }

    public func store(file: String, as name: String) throws {
        try client.putFile(location.bucket, key(name), path: file)
        try? FileManager.default.removeItem(atPath: file)
    }

    public func write(_ bytes: [UInt8], as name: String) throws {
        try client.put(location.bucket, key(name), bytes)
    }
}

/// `--to`: `s3://bucket/prefix` (the store and credentials from the AWS CLI's environment
/// variables or credentials file) or a local directory, created when missing.
public func openDestination(_ to: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ExportDestination {
    if to.hasPrefix("s3://") {
        guard let location = S3Location(parsing: to) else {
            throw DestinationProblem(description: "--to \(to): not s3://bucket/prefix with a valid bucket name (3-63 of a-z, 0-9, '.', '-')")
        }
        let config: S3Config
        do { config = try S3Config.fromEnvironment(environment) } catch { throw DestinationProblem(description: "--to \(to): \(error)") }
        return try S3Destination(S3Client(config), location)
    }
    guard !to.contains("://") else { throw DestinationProblem(description: "--to \(to): a directory or s3://bucket/prefix") }
    return try DirectoryDestination(to)
}
