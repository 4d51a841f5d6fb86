import Foundation
import Hashing
import Net

/// Where an S3-compatible store is and who we are to it, following the AWS CLI's
/// conventions: `AWS_ENDPOINT_URL` (a custom endpoint: path-style addressing), `AWS_REGION`
/// or `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
/// `AWS_SESSION_TOKEN`, else the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default
/// `~/.aws/credentials`) at profile `AWS_PROFILE` (default `default`), and `AWS_CA_BUNDLE`
/// for an HTTPS endpoint signed by a private CA.
public struct S3Config: Sendable, CustomStringConvertible {
    public var endpoint: String
    public var region: String
    public var credentials: AWSCredentials
    /// `https://host/bucket/key` rather than `https://bucket.host/key`: what custom endpoints
    /// (MinIO, moto, Ceph) take.
    public var pathStyle: Bool
    public var tls: TLSConfiguration?
    public var timeoutMillis = 30_000
    public var attempts = 4

    public init(endpoint: String, region: String, credentials: AWSCredentials, pathStyle: Bool, tls: TLSConfiguration? = nil) {
        self.endpoint = endpoint; self.region = region; self.credentials = credentials; self.pathStyle = pathStyle; self.tls = tls
    }

    public var description: String { "S3Config(\(endpoint), \(region), \(credentials), \(pathStyle ? "path-style" : "virtual-hosted"))" }

    public struct Problem: Error, CustomStringConvertible { public let description: String }

    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment, home: String = NSHomeDirectory()) throws(Problem) -> S3Config {
        let region = env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1"
        guard region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }), !region.isEmpty else {
            throw Problem(description: "AWS_REGION \(region.debugDescription): a region name such as us-east-1")
        }
        var creds: AWSCredentials?
        if let id = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"], !id.isEmpty, !secret.isEmpty {
            creds = AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        } else {
            let path = env["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
            let profile = env["AWS_PROFILE"] ?? "default"
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                creds = try credentialsFile(text, profile: profile, path: path)
            }
        }
        guard let creds else {
            throw Problem(description: "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE)")
        }
        if let e = env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"], !e.isEmpty {
            guard e.hasPrefix("http://") || e.hasPrefix("https://"), (try? HTTPURL(parsing: e)) != nil else {
                throw Problem(description: "AWS_ENDPOINT_URL \(e.debugDescription): an http:// or https:// URL")
            }
            return S3Config(endpoint: e, region: region, credentials: creds, pathStyle: true, tls: try caBundle(env))
        }
        return S3Config(endpoint: "https://s3.\(region).amazonaws.com", region: region, credentials: creds, pathStyle: false, tls: try caBundle(env))
    }

    /// `AWS_CA_BUNDLE`: the certificates an HTTPS endpoint is verified against instead of
    /// the system's (a private CA in front of MinIO or Ceph).
    static func caBundle(_ env: [String: String]) throws(Problem) -> TLSConfiguration? {
        guard let path = env["AWS_CA_BUNDLE"], !path.isEmpty else { return nil }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Problem(description: "AWS_CA_BUNDLE \(path.debugDescription): no readable file of PEM certificates there")
        }
        var tls = TLSConfiguration(role: .client)
        tls.caFile = path
        return tls
    }

    /// The `[profile]` section's aws_access_key_id / aws_secret_access_key / aws_session_token.
    static func credentialsFile(_ text: String, profile: String, path: String) throws(Problem) -> AWSCredentials? {
        var section = "", values = [String: String]()
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") { section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces); continue }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        guard !values.isEmpty else { return nil }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw Problem(description: "\(path) [\(profile)]: needs aws_access_key_id and aws_secret_access_key")
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}

/// `s3://bucket/prefix` as the CLI writes it.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public var bucket: String
    public var prefix: String

    public init(bucket: String, prefix: String) { self.bucket = bucket; self.prefix = prefix }

    public init?(parsing s: String) {
        guard s.hasPrefix("s3://") else { return nil }
        let rest = s.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        guard S3Location.validBucket(bucket) else { return nil }
        self.bucket = bucket
        prefix = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
    }

    public var description: String { "s3://\(bucket)/\(prefix)" }

    /// S3's bucket naming rules (3–63 of lowercase letters, digits, dots, hyphens).
    public static func validBucket(_ b: String) -> Bool {
        (3...63).contains(b.utf8.count) && b.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 }
            && b.first.map { $0.isLetter || $0.isNumber } == true && b.last.map { $0.isLetter || $0.isNumber } == true
    }
}

/// An error answer of the store, with S3's code and message (`NoSuchKey`, `AccessDenied`,
/// `SignatureDoesNotMatch`, …), or a transport failure after the retries.
public struct S3Error: Error, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public let request: String
    public var description: String { "\(request): \(status == 0 ? "" : "\(status) ")\(code)\(message.isEmpty ? "" : ": \(message)")" }
}

/// A small S3 client: PUT, GET, LIST (ListObjectsV2, every page), DELETE, HEAD, bucket
/// creation, and multipart upload for large objects, each request signed with SigV4 and
/// retried (connection errors, 5xx, throttling) with backoff. Blocking: call it off the
/// event loops. Credentials never reach a log line or an error.
public final class S3Client: @unchecked Sendable {
    public let config: S3Config
    let signer: SigV4
    private let lock = NSLock()
    private var clients: [String: HTTPClient] = [:]

    /// Parts of a multipart upload (S3's minimum is 5 MiB except for the last).
    public static let partBytes = 16 << 20

    public init(_ config: S3Config) {
        self.config = config
        signer = SigV4(credentials: config.credentials, region: config.region)
    }

    public struct Object: Sendable, Equatable {
        public var key: String
        public var size: Int
        public var etag: String
    }

    // MARK: the operations

    public func createBucket(_ bucket: String) throws {
        let body = config.region == "us-east-1" ? [] : Array("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(config.region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        let r = try send("PUT", bucket: bucket, key: nil, body: body)
        guard (200..<300).contains(r.status) || S3Client.code(r.body) == "BucketAlreadyOwnedByYou" else { throw failure(r, "create bucket \(bucket)") }
    }

    public func put(_ bucket: String, _ key: String, _ body: [UInt8]) throws {
        let r = try send("PUT", bucket: bucket, key: key, body: body)
        guard (200..<300).contains(r.status) else { throw failure(r, "PUT s3://\(bucket)/\(key)") }
    }

    public func get(_ bucket: String, _ key: String) throws -> [UInt8] {
        let r = try send("GET", bucket: bucket, key: key)
        guard r.status == 200 else { throw failure(r, "GET s3://\(bucket)/\(key)") }
        return r.body
    }

    /// The object's size, or nil when there is none.
    public func head(_ bucket: String, _ key: String) throws -> Int? {
        let r = try send("HEAD", bucket: bucket, key: key)
        if r.status == 404 { return nil }
        guard r.status == 200 else { throw failure(r, "HEAD s3://\(bucket)/\(key)") }
        return r.header("Content-Length").flatMap(Int.init)
    }

    public func delete(_ bucket: String, _ key: String) throws {
        let r = try send("DELETE", bucket: bucket, key: key)
        guard (200..<300).contains(r.status) || r.status == 404 else { throw failure(r, "DELETE s3://\(bucket)/\(key)") }
    }

    /// Every object under `prefix`, in key order, across pages.
    public func list(_ bucket: String, prefix: String) throws -> [Object] {
        var out = [Object](), token: String?
        repeat {
            var q = [("list-type", "2"), ("prefix", prefix)]
            if let token { q.append(("continuation-token", token)) }
            let r = try send("GET", bucket: bucket, key: nil, query: q)
            guard r.status == 200 else { throw failure(r, "LIST s3://\(bucket)/\(prefix)") }
            let xml = String(decoding: r.body, as: UTF8.self)
            for c in XMLScan.elements("Contents", in: xml) {
                guard let key = XMLScan.first("Key", in: c), let size = XMLScan.first("Size", in: c).flatMap(Int.init) else {
                    throw S3Error(status: r.status, code: "MalformedListing", message: "a Contents entry without Key or Size", request: "LIST s3://\(bucket)/\(prefix)")
                }
                out.append(Object(key: key, size: size, etag: XMLScan.first("ETag", in: c) ?? ""))
            }
            token = XMLScan.first("IsTruncated", in: xml) == "true" ? XMLScan.first("NextContinuationToken", in: xml) : nil
        } while token != nil
        return out
    }

    /// A large object from a file, in parts of `partBytes`, each read from disk when it is
    /// sent (memory stays one part); an upload that fails is aborted so no parts linger.
    public func putFile(_ bucket: String, _ key: String, path: String, partBytes: Int = S3Client.partBytes, progress: (Int, Int) -> Void = { _, _ in }) throws {
        precondition(partBytes >= 5 << 20, "S3 parts are at least 5 MiB")
        guard let handle = FileHandle(forReadingAtPath: path) else { throw S3Error(status: 0, code: "NoSuchFile", message: path, request: "PUT s3://\(bucket)/\(key)") }
        defer { try? handle.close() }
        let size = Int((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.intValue ?? 0)
        if size <= partBytes {
            try put(bucket, key, Array(handle.readDataToEndOfFile()))
            progress(size, size)
            return
        }
        let start = try send("POST", bucket: bucket, key: key, query: [("uploads", "")])
        guard start.status == 200, let uploadId = XMLScan.first("UploadId", in: String(decoding: start.body, as: UTF8.self)) else {
            throw failure(start, "start the multipart upload of s3://\(bucket)/\(key)")
        }
        var etags = [String](), sent = 0
        do {
            var number = 1
            while sent < size {
                let chunk = Array(handle.readData(ofLength: partBytes))
                guard !chunk.isEmpty else { break }
                let r = try send("PUT", bucket: bucket, key: key, query: [("partNumber", String(number)), ("uploadId", uploadId)], body: chunk)
                guard r.status == 200, let etag = r.header("ETag") else { throw failure(r, "upload part \(number) of s3://\(bucket)/\(key)") }
                etags.append(etag)
                sent += chunk.count
                number += 1
                progress(sent, size)
            }
            let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(XMLScan.escaped($0.element))</ETag></Part>" }.joined()
            let done = try send("POST", bucket: bucket, key: key, query: [("uploadId", uploadId)], body: Array("<CompleteMultipartUpload>\(parts)</CompleteMultipartUpload>".utf8))
            // S3 may answer 200 with an error in the body.
            guard done.status == 200, S3Client.code(done.body) == nil else { throw failure(done, "complete the multipart upload of s3://\(bucket)/\(key)") }
        } catch {
            _ = try? send("DELETE", bucket: bucket, key: key, query: [("uploadId", uploadId)])
            throw error
        }
    }

    /// An object into a local file, in ranged GETs of `partBytes` (memory stays one part),
    /// each part checked against the first part's ETag so an object replaced mid-download
    /// is refused rather than spliced. The file appears whole under `path` (a temporary
    /// name renamed) or not at all. False when there is no such object.
    public func getFile(_ bucket: String, _ key: String, to path: String, partBytes: Int = S3Client.partBytes, progress: (Int, Int) -> Void = { _, _ in }) throws -> Bool {
        precondition(partBytes > 0, "parts have bytes")
        let what = "GET s3://\(bucket)/\(key)"
        let partial = path + ".partial"
        FileManager.default.createFile(atPath: partial, contents: nil)
        guard let out = FileHandle(forWritingAtPath: partial) else { throw S3Error(status: 0, code: "CannotWrite", message: partial, request: what) }
        var closed = false
        defer { if !closed { try? out.close() }; try? FileManager.default.removeItem(atPath: partial) }
        var received = 0, total: Int?, etag: String?
        repeat {
            var headers = [("range", "bytes=\(received)-\(received + partBytes - 1)")]
            if let etag { headers.append(("if-match", etag)) }
            let r = try send("GET", bucket: bucket, key: key, headers: headers)
            if r.status == 404, total == nil { return false }
            if r.status == 412 { throw S3Error(status: r.status, code: "ObjectChanged", message: "the object was replaced during the download", request: what) }
            // 416: an empty object has no byte to range over.
            if r.status == 416, total == nil { total = 0; break }
            guard r.status == 206 || r.status == 200 else { throw failure(r, what) }
            let size: Int
            if r.status == 200 {
                size = r.body.count  // the store ignored the range and sent everything
                guard received == 0 else { throw S3Error(status: r.status, code: "RangeIgnored", message: "a whole object in answer to a later range", request: what) }
            } else {
                guard let range = r.header("Content-Range"), let slash = range.lastIndex(of: "/"), let s = Int(range[range.index(after: slash)...]),
                      range.hasPrefix("bytes \(received)-") else {
                    throw S3Error(status: r.status, code: "MalformedRange", message: "Content-Range \(r.header("Content-Range") ?? "missing") for bytes from \(received)", request: what)
                }
                size = s
            }
            guard total == nil || total == size else { throw S3Error(status: r.status, code: "ObjectChanged", message: "the object's size changed from \(total!) to \(size)", request: what) }
            guard !r.body.isEmpty || size == received, received + r.body.count <= size else {
                throw S3Error(status: r.status, code: "ShortRead", message: "\(r.body.count) bytes at offset \(received) of \(size)", request: what)
            }
            total = size
            etag = etag ?? r.header("ETag")
            try out.write(contentsOf: r.body)
            received += r.body.count
            progress(received, size)
        } while received < total!
        assert(received == total, "a complete download has every byte")
        try out.synchronize()
        try out.close()
        closed = true
        guard rename(partial, path) == 0 else { throw S3Error(status: 0, code: "CannotWrite", message: "rename to \(path): \(String(cString: strerror(errno)))", request: what) }
        return true
    }

    // MARK: requests

    /// One signed request, retried on what is worth retrying.
    func send(_ method: String, bucket: String, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [], body: [UInt8] = []) throws -> HTTPClient.Response {
        precondition(S3Location.validBucket(bucket), "bucket names are checked before use")
        let (base, path) = address(bucket: bucket, key: key)
        let target = path + (query.isEmpty ? "" : "?" + query.map { SigV4.uriEncode($0.0, slash: true) + "=" + SigV4.uriEncode($0.1, slash: true) }.joined(separator: "&"))
        let payload = SigV4.hex(SHA256.hash(body))
        var lastError: Error?
        for attempt in 1...config.attempts {
            do {
                let client = try connection(base)
                let amzDate = Self.amzDate(Date())
                let signed = signer.signedHeaders(SigV4.Request(method: method, path: path, query: query, headers: [("host", client.url?.hostHeader ?? "")] + extra,
                                                                payloadHash: payload), amzDate: amzDate)
                let r = try client.request(method, target, headers: extra + signed, body: body)
                if r.status >= 500 || r.status == 429 || (r.status == 503) {
                    lastError = failure(r, "\(method) \(path)")
                } else {
                    return r
                }
            } catch {
                drop(base)
                lastError = error
            }
            if attempt < config.attempts { usleep(UInt32(min(8_000, 200 << (attempt - 1))) * 1000) }
        }
        if let e = lastError as? S3Error { throw e }
        throw S3Error(status: 0, code: "Unreachable", message: "\(lastError.map { "\($0)" } ?? "no answer") after \(config.attempts) attempts", request: "\(method) \(path)")
    }

    /// The connection's base URL and the request's path, path-style or virtual-hosted.
    func address(bucket: String, key: String?) -> (String, String) {
        let encodedKey = key.map { "/" + SigV4.uriEncode($0, slash: false) } ?? "/"
        if config.pathStyle {
            return (config.endpoint, "/" + bucket + (key == nil ? "" : encodedKey))
        }
        let host = config.endpoint.replacingOccurrences(of: "://", with: "://\(bucket).")
        return (host, encodedKey)
    }

    private func connection(_ base: String) throws -> HTTPClient {
        lock.lock(); defer { lock.unlock() }
        if let c = clients[base] { return c }
        let c = try HTTPClient(url: base, timeoutMillis: config.timeoutMillis, tls: config.tls)
        clients[base] = c
        return c
    }

    private func drop(_ base: String) {
        lock.lock(); defer { lock.unlock() }
        clients[base]?.close()
        clients[base] = nil
    }

    func failure(_ r: HTTPClient.Response, _ what: String) -> S3Error {
        let xml = String(decoding: r.body, as: UTF8.self)
        return S3Error(status: r.status, code: XMLScan.first("Code", in: xml) ?? "HTTP\(r.status)", message: XMLScan.first("Message", in: xml) ?? "", request: what)
    }

    static func code(_ body: [UInt8]) -> String? {
        let xml = String(decoding: body, as: UTF8.self)
        return xml.contains("<Error>") ? XMLScan.first("Code", in: xml) : nil
    }

    static func amzDate(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
    }
}

/// Just enough XML for S3's answers: the text of named elements (no attributes, no
/// namespaces needed), with the five predefined entities decoded.
enum XMLScan {
    static func elements(_ name: String, in xml: String) -> [String] {
        var out = [String](), rest = Substring(xml)
        let open = "<\(name)>", close = "</\(name)>"
        while let a = rest.range(of: open), let b = rest[a.upperBound...].range(of: close) {
            out.append(String(rest[a.upperBound..<b.lowerBound]))
            rest = rest[b.upperBound...]
        }
        return out
    }

    static func first(_ name: String, in xml: String) -> String? {
        elements(name, in: xml).first.map(unescaped)
    }

    static func unescaped(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
