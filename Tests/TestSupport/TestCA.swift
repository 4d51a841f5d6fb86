import Foundation

/// Certificates made with the `openssl` command (Debian's openssl, an independent
/// implementation of the issuing side) in a temporary directory.
public final class TestCA: @unchecked Sendable {
    public let dir: String

    public init(name: String = "Test CA") throws {
        dir = NSTemporaryDirectory() + "infrastack-ca-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/ca.key",
                 "-out", "\(dir)/ca.pem", "-days", "30", "-subj", "/CN=\(name)"])
    }

    public var caFile: String { "\(dir)/ca.pem" }

    /// Issues a certificate for `names` (DNS names or IPs); `days: 0` is expired a second later.
    public func issue(_ file: String, names: [String], days: Int = 30) throws -> (cert: String, key: String) {
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

    public static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }
}
