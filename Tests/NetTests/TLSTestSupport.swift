import Foundation
import TestSupport
@testable import Net

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
