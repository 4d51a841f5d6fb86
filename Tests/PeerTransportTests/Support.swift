import Foundation
import Testing
import TestSupport


func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

func unhex(_ s: String) -> [UInt8] {
    var out = [UInt8]()
    var it = s.utf8.makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
    while let a = it.next(), let b = it.next() { out.append(nibble(a) << 4 | nibble(b)) }
    return out
}

/// Polls `condition` until it holds or a generous deadline passes; for eventual conditions
/// on real sockets, so no assertion depends on how fast the machine is.
func eventually(_ what: String, timeoutSeconds: Double = 10, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while !condition() {
        if Date() > deadline { throw TestFailure("timed out after \(timeoutSeconds) s waiting for: \(what)") }
        usleep(5_000)
    }
}

/// The Python interpreter for reference cross-checks. Only the standard library is needed
/// (hashlib, hmac), so a system python3 serves when Tests/run's venv is not configured.
enum PythonReference {
    static var interpreter: String? {
        let env = ProcessInfo.processInfo.environment
        var candidates = [env["INFRASTACK_PYTHON"], "/usr/bin/python3", "/usr/local/bin/python3"].compactMap { $0 }
        for dir in (env["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/python3") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `script` with `input` on stdin and returns its stdout.
    static func run(script: String, input: Data) throws -> Data {
        guard let py = interpreter else { throw TestFailure("no Python interpreter found (set INFRASTACK_PYTHON or install python3)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = ["-c", script]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        p.standardInput = stdin; p.standardOutput = stdout; p.standardError = stderr
        try p.run()
        // Write from another thread so a large answer cannot deadlock against a full stdin pipe.
        let writer = Thread { stdin.fileHandleForWriting.write(input); try? stdin.fileHandleForWriting.close() }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TestFailure("python (\(py)) exited \(p.terminationStatus): \(String(decoding: err, as: UTF8.self))")
        }
        return out
    }
}
