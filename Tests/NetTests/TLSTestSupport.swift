import Foundation
import TestSupport
@testable import Net

/// Certificates made with the `openssl` command (Debian's openssl, an independent
/// implementation of the issuing side) in a temporary directory.
final class TestCA: @unchecked Sendable {
    let dir: String

    init(name: String = "Test CA") throws {
        dir = NSTemporaryDirectory() + "infrastack-ca-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/ca.key",
                 "-out", "\(dir)/ca.pem", "-days", "30", "-subj", "/CN=\(name)"])
    }

    var caFile: String { "\(dir)/ca.pem" }

    /// Issues a certificate for `names` (DNS names or IPs); `days: 0` is expired a second later.
    func issue(_ file: String, names: [String], days: Int = 30) throws -> (cert: String, key: String) {
        let key = "\(dir)/\(file).key", csr = "\(dir)/\(file).csr", cert = "\(dir)/\(file).pem", ext = "\(dir)/\(file).ext"
        try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=\(names[0])"])
        let san = names.map { $0.first?.isNumber == true || $0.contains(":") ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        try "subjectAltName=\(san)\n".write(toFile: ext, atomically: true, encoding: .utf8)
        try run(["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", "\(dir)/ca.key", "-CAcreateserial", "-out", cert,
                 "-days", String(days), "-extfile", ext])
        return (cert, key)
    }

    private func run(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestFailure("openssl \(args.joined(separator: " ")) failed") }
    }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }
}

/// Tests/python/tls_upstream.py running in the background: Python's ssl module as the
/// independent server side.
final class PythonTLSServer: @unchecked Sendable {
    let process = Process()
    let port: UInt16

    init(cert: (cert: String, key: String), extra: [String] = []) throws {
        let script = References.packageRoot.appendingPathComponent("Tests/python/tls_upstream.py").path
        process.executableURL = URL(fileURLWithPath: References.python ?? "/usr/bin/python3")
        process.arguments = [script, "--cert", cert.cert, "--key", cert.key] + extra
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = [UInt8]()
        while let b = try out.fileHandleForReading.read(upToCount: 1), let c = b.first, c != 0x0a { line.append(c) }
        guard let p = UInt16(String(decoding: line, as: UTF8.self)) else { process.terminate(); throw TestFailure("tls_upstream.py did not start") }
        port = p
    }

    // SIGKILL: the test process may ignore SIGTERM (signal sources), and children inherit that.
    deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
}
