import Foundation
@testable import Storage

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = #function) {
        let base = NSTemporaryDirectory() + "storage-tests-\(label.filter { $0.isLetter || $0.isNumber })-XXXXXX"
        var template = Array(base.utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed for \(base): errno \(errno)") }
        path = String(cString: made)
    }

    func subpath(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Opens a throwaway environment, runs `body`, then closes and deletes it.
@discardableResult
func withTemporaryEnvironment<R>(
    _ label: String = #function,
    options: Environment.Options = Environment.Options(),
    _ body: (Environment, TemporaryDirectory) throws -> R
) throws -> R {
    let directory = TemporaryDirectory(label)
    defer { directory.remove() }
    let environment = try Environment(path: directory.subpath("env"), options: options)
    defer { environment.close() }
    return try body(environment, directory)
}

/// Seeds for randomized tests: `STORAGE_TEST_SEED=<n>` replays exactly one seed,
/// otherwise the given defaults run.
func testSeeds(default defaults: [UInt64]) -> [UInt64] {
    if let text = ProcessInfo.processInfo.environment["STORAGE_TEST_SEED"], let seed = UInt64(text) {
        return [seed]
    }
    return defaults
}

extension Array where Element == UInt8 {
    var hex: String { "0x" + map { String(format: "%02x", $0) }.joined() }
}
