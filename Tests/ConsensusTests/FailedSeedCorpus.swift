import ConsensusSim
import Foundation

/// `FailedSeeds.txt`: every simulator schedule that ever failed, one per line, replayed by
/// every CI run. A line is `<seed> nodes=<3|5> ticks=<n> [keep=<i,j,...>] # <what it found>`.
/// A seed names a schedule only for the generator that made it; when the generator
/// changes, the old lines still run (as new schedules) and stay as a floor.
enum FailedSeedCorpus {
    struct Entry {
        var seed: UInt64
        var options: SimulationOptions
        var note: String
    }

    struct Malformed: Error, CustomStringConvertible {
        var line: Int
        var why: String
        var description: String { "\(FailedSeedCorpus.path):\(line): \(why)" }
    }

    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FailedSeeds.txt").path

    static func load() throws -> [Entry] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try parse(text)
    }

    static func parse(_ text: String) throws(Malformed) -> [Entry] {
        var entries: [Entry] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let parts = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            let body = parts.first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard !body.isEmpty else { continue }
            let note = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            let fields = body.split(separator: " ")
            guard let seed = UInt64(fields[0]) else { throw Malformed(line: number + 1, why: "seed \"\(fields[0])\" is not a decimal UInt64") }
            var options = SimulationOptions()
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { throw Malformed(line: number + 1, why: "field \"\(field)\" is not name=value") }
                switch pair[0] {
                case "nodes":
                    guard let n = Int(pair[1]), n == 3 || n == 5 else { throw Malformed(line: number + 1, why: "nodes must be 3 or 5, not \(pair[1])") }
                    options.nodes = n
                case "ticks":
                    guard let t = Int(pair[1]), t > 0 else { throw Malformed(line: number + 1, why: "ticks must be a positive integer, not \(pair[1])") }
                    options.ticks = t
                case "keep":
                    let kept = pair[1].split(separator: ",").map { Int($0) }
                    guard kept.allSatisfy({ $0 != nil }) else { throw Malformed(line: number + 1, why: "keep must list event indexes, not \(pair[1])") }
                    options.keptEvents = Set(kept.compactMap { $0 })
                default:
                    throw Malformed(line: number + 1, why: "unknown field \"\(pair[0])\" (nodes, ticks, keep)")
                }
            }
            entries.append(Entry(seed: seed, options: options, note: note))
        }
        return entries
    }

    static func line(seed: UInt64, options: SimulationOptions, note: String) -> String {
        let keep = options.keptEvents.map { " keep=" + $0.sorted().map(String.init).joined(separator: ",") } ?? ""
        return "\(seed) nodes=\(options.nodes) ticks=\(options.ticks)\(keep) # \(note.replacingOccurrences(of: "\n", with: " "))"
    }

    /// Appends a failing schedule to the corpus, except in CI, whose clone is thrown away
    /// (there the report prints the line to add). Returns whether it was stored.
    static func append(_ line: String) -> Bool {
        if ProcessInfo.processInfo.environment["CI"] == "true" { return false }
        guard let handle = FileHandle(forWritingAtPath: path) else { return false }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        return true
    }
}
