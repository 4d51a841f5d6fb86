import Foundation

/// Where the shared conformance fixtures and the Python references live, and whether
/// their absence is a failure (CI) or a plainly reported skip (a developer's machine).
public enum References {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let required = ProcessInfo.processInfo.environment["INFRASTACK_REQUIRE_REFERENCES"] == "1"

    public static var fixtures: URL {
        if let p = ProcessInfo.processInfo.environment["INFRASTACK_FIXTURES"], !p.isEmpty { return URL(fileURLWithPath: p) }
        return packageRoot.appendingPathComponent("../shared/fixtures").standardizedFileURL
    }
    public static var fixturesPresent: Bool { FileManager.default.fileExists(atPath: fixtures.appendingPathComponent("SOURCES.md").path) }
    /// Run fixture tests when the folder exists, and also when CI requires it (so they fail loudly).
    public static var runFixtureTests: Bool {
        if !fixturesPresent && !required { print("SKIP: conformance fixtures not found at \(fixtures.path) (set INFRASTACK_FIXTURES)") }
        return fixturesPresent || required
    }

    public static var python: String? {
        if let p = ProcessInfo.processInfo.environment["INFRASTACK_PYTHON"], FileManager.default.isExecutableFile(atPath: p) { return p }
        return nil
    }
    public static var runPythonTests: Bool {
        if python == nil && !required { print("SKIP: Python references not configured (run Tests/run, or set INFRASTACK_PYTHON)") }
        return python != nil || required
    }

    public static func fixture(_ relative: String) throws -> Data {
        let url = fixtures.appendingPathComponent(relative)
        guard let d = FileManager.default.contents(atPath: url.path) else {
            throw TestFailure("fixture \(relative) not found under \(fixtures.path)")
        }
        return d
    }

    public static func listFixtures(_ dir: String, suffix: String = "") throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent(dir).path)
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { dir + "/" + $0 }
    }

    /// Runs a script under Tests/python with `input` on stdin; returns its stdout.
    public static func runPython(_ script: String, input: Data, arguments: [String] = []) throws -> Data {
        try runPython(arguments: [packageRoot.appendingPathComponent("Tests/python/\(script)").path] + arguments, input: input)
    }

    /// Runs the reference Python with `arguments`, feeding `input`; returns stdout, throwing
    /// (with stderr) on a non-zero exit.
    public static func runPython(arguments: [String], input: Data = Data()) throws -> Data {
        guard let py = python else { throw TestFailure("INFRASTACK_PYTHON is not set; the Python reference cross-checks need the venv that Tests/run creates") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = arguments
        let stdin = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = stdin; p.standardOutput = output; p.standardError = errors
        try p.run()
        // Feed stdin and drain stderr on threads of their own, so no pipe can fill up and
        // deadlock the exchange however large the input or the answer.
        let writer = Thread { stdin.fileHandleForWriting.write(input); try? stdin.fileHandleForWriting.close() }
        writer.start()
        let errReader = PipeDrain(errors)
        let out = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let err = errReader.finish()
        guard p.terminationStatus == 0 else {
            throw TestFailure("python \(arguments.first ?? "") exited \(p.terminationStatus): \(String(decoding: err, as: UTF8.self))")
        }
        return out
    }
}

/// Reads a pipe to its end on a thread of its own.
public final class PipeDrain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    public init(_ pipe: Pipe) {
        let t = Thread { [self] in data = pipe.fileHandleForReading.readDataToEndOfFile(); done.signal() }
        t.start()
    }
    public func finish() -> Data { done.wait(); return data }
}
