import Foundation
import Hashing
import Net
@testable import ObjectStore
import TestSupport
import Testing

/// The S3 client against moto (PyPI `moto[server]`, a local S3 endpoint) and boto3 (the AWS
/// SDK) reading what we wrote and writing what we read: objects small and multipart, keys
/// that need encoding, pages of a listing, errors with S3's codes, retries of a dead endpoint.
/// Signatures themselves are checked against AWS's published examples in `SigV4Tests`
/// (moto accepts any).
@Suite(.serialized) struct S3ClientTests {
    /// A moto server on a free port, or nil (with the reason printed) without the Python references.
    final class Moto {
        let process: Process
        let port: Int
        let python: String
        /// The CA that signed the server's certificate when it serves HTTPS.
        let caFile: String?

        init?(tls: (cert: String, key: String, ca: String)? = nil) {
            guard let python = ProcessInfo.processInfo.environment["INFRASTACK_PYTHON"] else {
                Self.skip("INFRASTACK_PYTHON is not set (Tests/run sets it)")
                return nil
            }
            self.python = python
            caFile = tls?.ca
            port = Int.random(in: 41_000...44_000)
            process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)] + (tls.map { ["-c", $0.cert, "-k", $0.key] } ?? [])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { Self.skip("cannot start moto: \(error)"); return nil }
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if let c = try? HTTPClient(url: "\(scheme)://127.0.0.1:\(port)", timeoutMillis: 500, tls: clientTLS), (try? c.get("/")) != nil { return }
                usleep(100_000)
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Self.skip("moto did not start within 20 s (is moto[server] installed in the venv?)")
            return nil
        }

        static func skip(_ why: String) {
            if ProcessInfo.processInfo.environment["INFRASTACK_REQUIRE_REFERENCES"] == "1" { Issue.record("S3ClientTests need moto: \(why)") }
            print("SKIP: S3ClientTests: \(why)")
        }

        var scheme: String { caFile == nil ? "http" : "https" }

        var clientTLS: TLSConfiguration? {
            guard let caFile else { return nil }
            var t = TLSConfiguration(role: .client)
            t.caFile = caFile
            return t
        }

        var config: S3Config {
            S3Config(endpoint: "\(scheme)://127.0.0.1:\(port)", region: "us-east-1", credentials: AWSCredentials(accessKeyId: "testing", secretAccessKey: "testing-secret"),
                     pathStyle: true, tls: clientTLS)
        }

        /// Runs a boto3 script against this endpoint; its stdout.
        func boto3(_ script: String) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            let verify = caFile.map { "'\($0)'" } ?? "None"
            p.arguments = ["-c", "import boto3, hashlib, sys\ns3 = boto3.client('s3', endpoint_url='\(scheme)://127.0.0.1:\(port)', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing-secret', verify=\(verify))\n" + script]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.standardError
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw S3Error(status: 0, code: "boto3", message: "the boto3 script failed", request: script) }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        // moto's server does not stop on SIGTERM.
        deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    @Test func objectsRoundTripWithBoto3() throws {
        guard let moto = Moto() else { return }
        let s3 = S3Client(moto.config)
        try s3.createBucket("backups")
        try s3.createBucket("backups")   // already ours: fine
        let keys = ["plain.txt", "dir/with space & plus+.bin", "ünïcode/ключ.json", "deep/a/b/c/d.txt"]
        for (i, k) in keys.enumerated() { try s3.put("backups", k, Array("object \(i) \(k)".utf8)) }
        for (i, k) in keys.enumerated() { #expect(try s3.get("backups", k) == Array("object \(i) \(k)".utf8), "\(k)") }
        // boto3 reads what we wrote, under the same keys.
        let seen = try moto.boto3("print('\\n'.join(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='backups')['Contents'])))")
        #expect(seen.split(separator: "\n").map(String.init) == keys.sorted())
        #expect(try moto.boto3("print(s3.get_object(Bucket='backups', Key='dir/with space & plus+.bin')['Body'].read().decode())") == "object 1 dir/with space & plus+.bin")
        // We read what boto3 wrote.
        _ = try moto.boto3("s3.put_object(Bucket='backups', Key='from-boto3/x.bin', Body=bytes(range(256)) * 10)")
        #expect(try s3.get("backups", "from-boto3/x.bin") == Array((0..<2560).map { UInt8($0 % 256) }))
        #expect(try s3.head("backups", "from-boto3/x.bin") == 2560 && s3.head("backups", "absent") == nil)
        // Listing by prefix, across pages (moto pages at 1000).
        for i in 0..<1005 { try s3.put("backups", String(format: "many/%05d", i), [UInt8(i % 256)]) }
        let many = try s3.list("backups", prefix: "many/")
        #expect(many.count == 1005 && many.first?.key == "many/00000" && many.last?.key == "many/01004" && many.allSatisfy { $0.size == 1 })
        try s3.delete("backups", "plain.txt")
        try s3.delete("backups", "plain.txt")   // gone already: fine
        do {
            _ = try s3.get("backups", "plain.txt")
            Issue.record("a deleted object was read")
        } catch let e as S3Error {
            #expect(e.status == 404 && e.code == "NoSuchKey", "\(e)")
            #expect(!e.description.contains("testing-secret"), "errors carry no secret")
        }
    }

    @Test func largeObjectsGoInPartsAndBoto3AgreesOnTheBytes() throws {
        guard let moto = Moto() else { return }
        let s3 = S3Client(moto.config)
        try s3.createBucket("parts")
        let path = NSTemporaryDirectory() + "s3-large-\(UUID().uuidString.prefix(8))"
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: (12 << 20) + 12345)
        bytes.withUnsafeMutableBytes { raw in
            for i in stride(from: 0, to: raw.count - 7, by: 8) { raw.storeBytes(of: rng.next() as UInt64, toByteOffset: i, as: UInt64.self) }
        }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var reports = [Int]()
        try s3.putFile("parts", "snapshots/large.mdb", path: path, partBytes: 5 << 20) { sent, _ in reports.append(sent) }
        #expect(reports == [5 << 20, 10 << 20, bytes.count], "three parts, progress after each: \(reports)")
        let want = SigV4.hex(SHA256.hash(bytes))
        #expect(try moto.boto3("print(hashlib.sha256(s3.get_object(Bucket='parts', Key='snapshots/large.mdb')['Body'].read()).hexdigest())") == want)
        #expect(SigV4.hex(SHA256.hash(try s3.get("parts", "snapshots/large.mdb"))) == want)
        #expect(try moto.boto3("print(len(s3.list_multipart_uploads(Bucket='parts').get('Uploads', [])))") == "0", "no upload left open")
    }

    @Test func largeObjectsComeBackInRangedPartsIntoAFile() throws {
        guard let moto = Moto() else { return }
        let s3 = S3Client(moto.config)
        try s3.createBucket("ranges")
        let bytes = (0..<((9 << 20) + 777)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7) }
        _ = try moto.boto3("s3.put_object(Bucket='ranges', Key='big.mdb', Body=bytes(((i * 2654435761) >> 7) & 255 for i in range(\(bytes.count))))")
        let dir = NSTemporaryDirectory() + "s3-ranges-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var reports = [Int](), totals = Set<Int>()
        let found = try s3.getFile("ranges", "big.mdb", to: dir + "/big.mdb", partBytes: 4 << 20) { done, total in
            totals.insert(total)
            reports.append(done)
        }
        #expect(found && totals == [bytes.count])
        #expect(reports == [4 << 20, 8 << 20, bytes.count], "three ranged parts, progress after each: \(reports)")
        #expect(FileManager.default.contents(atPath: dir + "/big.mdb").map(Array.init) == bytes, "the file holds the object's bytes")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["big.mdb"], "no partial file left behind")

        #expect(try s3.getFile("ranges", "absent", to: dir + "/absent") == false)
        #expect(!FileManager.default.fileExists(atPath: dir + "/absent"))
        try s3.put("ranges", "empty", [])
        #expect(try s3.getFile("ranges", "empty", to: dir + "/empty"))
        #expect(FileManager.default.contents(atPath: dir + "/empty")?.count == 0)

        // Replaced after the first part: refused, not spliced, and nothing left under the name.
        do {
            _ = try s3.getFile("ranges", "big.mdb", to: dir + "/spliced", partBytes: 4 << 20) { done, _ in
                if done == 4 << 20 { try? s3.put("ranges", "big.mdb", Array(repeating: 1, count: 5 << 20)) }
            }
            Issue.record("an object replaced mid-download was accepted")
        } catch let e as S3Error {
            #expect(e.code == "ObjectChanged" && e.description.contains("s3://ranges/big.mdb"), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/spliced") && !FileManager.default.fileExists(atPath: dir + "/spliced.partial"))
    }

    @Test func anHTTPSEndpointIsVerifiedAgainstAWS_CA_BUNDLE() throws {
        guard TestCA.available else { print("SKIP: HTTPS S3 test: no /usr/bin/openssl"); return }
        let ca = try TestCA(name: "S3 test CA")
        let issued = try ca.issue("moto", names: ["127.0.0.1", "localhost"])
        guard let moto = Moto(tls: (issued.cert, issued.key, ca.caFile)) else { return }
        let env = ["AWS_ENDPOINT_URL": "https://127.0.0.1:\(moto.port)", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                   "AWS_CA_BUNDLE": ca.caFile]
        let config = try S3Config.fromEnvironment(env, home: "/nonexistent")
        #expect(config.tls?.caFile == ca.caFile && config.pathStyle)
        let s3 = S3Client(config)
        try s3.createBucket("tls")
        try s3.put("tls", "over/https.txt", Array("sealed".utf8))
        #expect(try s3.get("tls", "over/https.txt") == Array("sealed".utf8))
        #expect(try moto.boto3("print(s3.get_object(Bucket='tls', Key='over/https.txt')['Body'].read().decode())") == "sealed", "boto3 over the same TLS reads it")
        let path = NSTemporaryDirectory() + "s3-tls-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try s3.getFile("tls", "over/https.txt", to: path))
        #expect(FileManager.default.contents(atPath: path) == Data("sealed".utf8))

        // Without the CA the system trust store does not know this server: refused, naming why.
        var untrusted = try S3Config.fromEnvironment(env.filter { $0.key != "AWS_CA_BUNDLE" }, home: "/nonexistent")
        untrusted.attempts = 1
        do {
            _ = try S3Client(untrusted).get("tls", "over/https.txt")
            Issue.record("a server signed by an unknown CA was trusted")
        } catch let e as S3Error {
            #expect(e.code == "Unreachable" && e.description.lowercased().contains("certificate"), "\(e)")
        }
        #expect(throws: S3Config.Problem.self) { try S3Config.fromEnvironment(env.merging(["AWS_CA_BUNDLE": "/no/such/ca.pem"]) { $1 }, home: "/nonexistent") }
    }

    @Test func aDeadEndpointIsRetriedThenNamed() throws {
        var c = S3Config(endpoint: "http://127.0.0.1:9", region: "us-east-1", credentials: AWSCredentials(accessKeyId: "a", secretAccessKey: "b"), pathStyle: true)
        c.attempts = 2
        c.timeoutMillis = 500
        do {
            _ = try S3Client(c).get("bucket", "key")
            Issue.record("a dead endpoint answered")
        } catch let e as S3Error {
            #expect(e.code == "Unreachable" && e.description.contains("after 2 attempts") && e.description.contains("GET /bucket/key"), "\(e)")
        }
    }

    @Test func configurationFollowsTheAWSCLI() throws {
        let env = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"]
        let c = try S3Config.fromEnvironment(env, home: "/nonexistent")
        #expect(c.region == "eu-west-1" && c.pathStyle && c.endpoint == "http://127.0.0.1:5000" && c.credentials.accessKeyId == "AKID")
        #expect(!c.description.contains("SECRET"))
        let aws = try S3Config.fromEnvironment(["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_DEFAULT_REGION": "us-west-2"], home: "/nonexistent")
        #expect(aws.endpoint == "https://s3.us-west-2.amazonaws.com" && !aws.pathStyle)
        #expect(S3Client(aws).address(bucket: "b-1", key: "k/x y") == ("https://b-1.s3.us-west-2.amazonaws.com", "/k/x%20y"))
        let file = """
        [default]
        aws_access_key_id = DEFAULTID
        aws_secret_access_key = defaultsecret
        [backup]
        aws_access_key_id=BACKUPID
        aws_secret_access_key=backupsecret
        aws_session_token = TOKEN
        """
        #expect(try S3Config.credentialsFile(file, profile: "backup", path: "f") == AWSCredentials(accessKeyId: "BACKUPID", secretAccessKey: "backupsecret", sessionToken: "TOKEN"))
        #expect(try S3Config.credentialsFile(file, profile: "default", path: "f")?.accessKeyId == "DEFAULTID")
        #expect(try S3Config.credentialsFile(file, profile: "other", path: "f") == nil)
        #expect(throws: S3Config.Problem.self) { try S3Config.credentialsFile("[default]\naws_access_key_id = X", profile: "default", path: "f") }
        #expect(throws: S3Config.Problem.self) { try S3Config.fromEnvironment(["AWS_REGION": "eu-west-1"], home: "/nonexistent") }
        #expect(throws: S3Config.Problem.self) { try S3Config.fromEnvironment(env.merging(["AWS_ENDPOINT_URL": "ftp://x"]) { $1 }, home: "/nonexistent") }
        #expect(S3Location(parsing: "s3://my-backups/cluster/prod") == S3Location(bucket: "my-backups", prefix: "cluster/prod"))
        #expect(S3Location(parsing: "s3://My_Bucket/x") == nil && S3Location(parsing: "/local/dir") == nil && S3Location(parsing: "s3://ab") == nil)
    }
}
