/// A transcript file: commands, each followed by `----` and the output it must produce,
/// blocks separated by blank lines; `#` lines before a command are comments (the style of
/// etcd-io/raft's datadriven interaction tests).
///
///     # a comment
///     campaign 1
///     ----
///     1: persist hard state term 1 vote 1 commit 0
///     ...
public struct Transcript: Sendable {
    public struct Block: Sendable, Equatable {
        /// Comment lines before the command, kept so a rewrite preserves them.
        public var comments: [String]
        public var command: String
        /// 1-based line of the command in the file.
        public var line: Int
        public var expected: [String]
    }

    public struct Malformed: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var why: String
        public var description: String { "\(file):\(line): \(why)" }
    }

    public var file: String
    public var blocks: [Block]
    /// Comments after the last block.
    public var trailer: [String]

    public init(file: String, text: String) throws(Malformed) {
        self.file = file
        var blocks: [Block] = []
        var comments: [String] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var k = 0
        while k < lines.count {
            let line = lines[k]
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { k += 1; continue }
            if line.hasPrefix("#") { comments.append(line); k += 1; continue }
            let commandLine = k + 1
            guard k + 1 < lines.count, lines[k + 1] == "----" else {
                throw Malformed(file: file, line: commandLine, why: "command \"\(line)\" must be followed by a line \"----\"")
            }
            k += 2
            var expected: [String] = []
            while k < lines.count, !lines[k].isEmpty {
                expected.append(lines[k])
                k += 1
            }
            blocks.append(Block(comments: comments, command: line, line: commandLine, expected: expected))
            comments = []
        }
        self.blocks = blocks
        trailer = comments
    }

    /// The file with every block's output replaced by `outputs` (same order).
    public func rewritten(outputs: [[String]]) -> String {
        precondition(outputs.count == blocks.count, "one output per block")
        var text: [String] = []
        for (block, output) in zip(blocks, outputs) {
            text.append(contentsOf: block.comments)
            text.append(block.command)
            text.append("----")
            text.append(contentsOf: output)
            text.append("")
        }
        text.append(contentsOf: trailer)
        return text.joined(separator: "\n") + (trailer.isEmpty ? "" : "\n")
    }
}
