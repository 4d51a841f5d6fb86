import ConsensusSim
import Foundation
import Testing

/// Scripted interaction transcripts (`Transcripts/*.txt`): each command's output — every
/// Ready step and message of the production driver — must equal the golden text, so a
/// change of behaviour shows up as a readable diff. After an intended change, regenerate
/// with `INFRASTACK_REWRITE_TRANSCRIPTS=1 swift test --filter TranscriptTests` and read the
/// diff of the golden files before committing it.
@Suite struct TranscriptTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Transcripts")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".txt") }.sorted()
    }

    @Test func everyListedBehaviourHasATranscript() {
        for name in ["elections", "vote-persistence", "step-down", "commit-bounds", "conflict-truncation", "read-index", "snapshots", "leadership-transfer"] {
            #expect(Self.files.contains("\(name).txt"), "missing Transcripts/\(name).txt")
        }
    }

    @Test(arguments: files)
    func transcript(_ name: String) throws {
        let path = Self.directory.appendingPathComponent(name).path
        let transcript = try Transcript(file: name, text: String(contentsOfFile: path, encoding: .utf8))
        #expect(transcript.blocks.count >= 5, "\(name) has only \(transcript.blocks.count) commands")
        let runner = TranscriptRunner()
        var outputs: [[String]] = []
        var mismatches = 0
        for block in transcript.blocks {
            let output: [String]
            do { output = try runner.run(block.command) } catch {
                Issue.record("\(name):\(block.line): \(block.command): \(error)")
                return
            }
            outputs.append(output)
            if output != block.expected && mismatches < 3 {
                mismatches += 1
                Issue.record("\(name):\(block.line): `\(block.command)` printed something else:\n\(Self.diff(expected: block.expected, actual: output))")
            }
        }
        if ProcessInfo.processInfo.environment["INFRASTACK_REWRITE_TRANSCRIPTS"] == "1" {
            try transcript.rewritten(outputs: outputs).write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// Expected and actual output, line by line: `-` only expected, `+` only printed.
    static func diff(expected: [String], actual: [String]) -> String {
        // Longest common subsequence, fine for the few dozen lines of one command.
        let n = expected.count, m = actual.count
        var table = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i][j] = expected[i] == actual[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var lines: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, expected[i] == actual[j] { lines.append("  " + expected[i]); i += 1; j += 1 }
            else if j < m, i == n || table[i][j + 1] >= table[i + 1][j] { lines.append("+ " + actual[j]); j += 1 }
            else { lines.append("- " + expected[i]); i += 1 }
        }
        return lines.joined(separator: "\n")
    }

    @Test func malformedTranscriptsNameTheFileLineAndProblem() throws {
        #expect(throws: Transcript.Malformed.self) { try Transcript(file: "bad.txt", text: "campaign 1\nno separator\n") }
        do {
            _ = try Transcript(file: "bad.txt", text: "# c\n\ncampaign 1\noops\n")
            Issue.record("accepted a command without ----")
        } catch {
            #expect(error.description == "bad.txt:3: command \"campaign 1\" must be followed by a line \"----\"")
        }
        let runner = TranscriptRunner()
        #expect(throws: TranscriptRunner.Failure.self) { try runner.run("campaign 1") }   // no cluster yet
        _ = try runner.run("cluster voters=3")
        for (command, why) in [("frobnicate 1", "unknown command \"frobnicate\""), ("campaign 9", "node 9 is not in the cluster"),
                               ("tick x", "expected a node id"), ("inject 1 2 shout term=1", "unknown message kind \"shout\""),
                               ("cluster voters=3 colour=red", "cluster has no option colour")] {
            do {
                _ = try runner.run(command)
                Issue.record("\(command) was accepted")
            } catch {
                #expect(error.description.contains(why), "\(command): \(error)")
            }
        }
    }

    @Test func diffShowsWhatChanged() {
        #expect(Self.diff(expected: ["a", "b", "c"], actual: ["a", "x", "c"]) == "  a\n+ x\n- b\n  c")
    }
}
