import Foundation
import Gzip
import Hashing
import Testing
import TestSupport

/// The streaming gzip writer and reader: Python's `gzip` module (the reference) reads what
/// we write byte for byte and we read what it writes; a large random input round-trips
/// with the file growing while it is written (not held in memory until the end); damage
/// is an error, never a short read.
@Suite struct GzipTests {
    static func temp(_ name: String) -> String { NSTemporaryDirectory() + "gzip-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)" }

    /// `n` bytes of which about half compress (repeated JSON-ish text) and half do not.
    static func mixed(_ n: Int, _ rng: inout SeededRandom) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(n + 8)
        let text = Array(#"{"number":"0x1b4","hash":"0xdc0818cf78f21a8e70579cb46a43643f78291264dda342ae31049421c82d21ae","logs":[]}"#.utf8) + [10]
        while out.count < n {
            if Bool.random(using: &rng) {
                out += text
            } else {
                for _ in 0..<16 { withUnsafeBytes(of: rng.next()) { out += $0 } }
            }
        }
        return Array(out.prefix(n))
    }

    static func sha(_ b: [UInt8]) -> String { SHA256.hash(b).map { String(format: "%02x", $0) }.joined() }

    @Test func pythonReadsWhatWeWriteByteForByte() throws {
        guard References.runPythonTests else { return }
        let seed = SeededRandom.seed("pythonReadsWhatWeWriteByteForByte")
        var rng = SeededRandom(seed: seed)
        let cases: [(String, [UInt8], Int32)] = [
            ("empty", [], 6),
            ("one line", Array("{\"a\":1}\n".utf8), 6),
            ("mixed 3 MiB level 1", Self.mixed(3 << 20, &rng), 1),
            ("mixed 1 MiB level 9", Self.mixed(1 << 20, &rng), 9),
            ("all byte values", (0..<70_000).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: i &* 31 &+ i >> 8) }, 6),
        ]
        for (name, data, level) in cases {
            let path = Self.temp("py.gz")
            defer { try? FileManager.default.removeItem(atPath: path) }
            // A small buffer and uneven writes, so many flushes of compressed output happen.
            let w = try GzipFileWriter(path: path, level: level, bufferSize: 4096)
            var i = 0
            while i < data.count {
                let n = min(data.count - i, Int.random(in: 1...100_000, using: &rng))
                try w.write(Array(data[i..<(i + n)]))
                i += n
            }
            try w.finish()
            #expect(w.bytesIn == UInt64(data.count), "\(name), seed \(seed)")
            let answer = try References.runPython(arguments: ["-c", "import gzip, hashlib, sys\nd = gzip.open(sys.argv[1]).read()\nprint(len(d), hashlib.sha256(d).hexdigest())", path])
            let got = String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(got == "\(data.count) \(Self.sha(data))", "\(name): Python read \(got), seed \(seed)")
        }
    }

    @Test func weReadWhatPythonWritesIncludingConcatenatedMembers() throws {
        guard References.runPythonTests else { return }
        let path = Self.temp("from-py.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Two members, as `cat a.gz b.gz` makes: readers take them as one stream.
        _ = try References.runPython(arguments: ["-c", """
            import gzip, sys
            a = bytes((i * 7 + i // 256) % 256 for i in range(300000))
            b = b'{"second":"member"}\\n' * 5000
            open(sys.argv[1], 'wb').write(gzip.compress(a, 9) + gzip.compress(b, 1))
            """, path])
        let a: [UInt8] = (0..<300_000).map { (i: Int) -> UInt8 in UInt8((i * 7 + i / 256) % 256) }
        let b = Array(String(repeating: "{\"second\":\"member\"}\n", count: 5000).utf8)
        let r = try GzipFileReader(path: path)
        var got = [UInt8]()
        while true {
            let piece = try r.read(max: 7777)
            if piece.isEmpty { break }
            #expect(piece.count <= 7777)
            got += piece
        }
        #expect(got.count == a.count + b.count)
        #expect(got == a + b, "both members, in order")
    }

    @Test func aLargeRandomInputRoundTripsAndReachesTheFileAsItIsWritten() throws {
        let seed = SeededRandom.seed("aLargeRandomInputRoundTrips")
        var rng = SeededRandom(seed: seed)
        let path = Self.temp("large.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try GzipFileWriter(path: path, level: 1)
        var written = SHA256(), total = 0
        var sizeWhileWriting = 0
        let target = 48 << 20
        while total < target {
            let piece = Self.mixed(Int.random(in: 1...(2 << 20), using: &rng), &rng)
            try w.write(piece)
            written.update(piece)
            total += piece.count
            if total > target / 2 && sizeWhileWriting == 0 {
                sizeWhileWriting = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
            }
        }
        try w.finish()
        // Half the input in, most of its compressed form must already be on disk: the writer
        // does not keep the stream in memory.
        #expect(sizeWhileWriting > (target / 2) / 4, "only \(sizeWhileWriting) bytes on disk halfway through, seed \(seed)")
        #expect(w.bytesOut < w.bytesIn, "the text half compresses, seed \(seed)")
        let r = try GzipFileReader(path: path)
        var read = SHA256(), count = 0
        while true {
            let piece = try r.read()
            if piece.isEmpty { break }
            read.update(piece)
            count += piece.count
        }
        #expect(count == total, "seed \(seed)")
        #expect(read.finalized() == written.finalized(), "the bytes read are the bytes written, seed \(seed)")
    }

    @Test func aTruncatedOrDamagedFileIsAnErrorNotAShortRead() throws {
        var rng = SeededRandom(seed: 7)
        let data = Self.mixed(600_000, &rng)
        let path = Self.temp("damaged.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try GzipFileWriter(path: path)
        try w.write(data)
        try w.finish()
        let whole = Array(FileManager.default.contents(atPath: path)!)
        #expect(try GzipFileReader(path: path).readAll() == data)

        _ = FileManager.default.createFile(atPath: path, contents: Data(whole.dropLast(6)))
        #expect(throws: GzipError.self) { _ = try GzipFileReader(path: path).readAll() }
        do { _ = try GzipFileReader(path: path).readAll() } catch { #expect("\(error)".contains("truncated"), "\(error)") }

        var flipped = whole
        flipped[whole.count / 2] ^= 0x40
        _ = FileManager.default.createFile(atPath: path, contents: Data(flipped))
        #expect(throws: GzipError.self) { _ = try GzipFileReader(path: path).readAll() }

        // A writer dropped before finish leaves no trailer.
        do {
            let unfinished = try GzipFileWriter(path: path)
            try unfinished.write(data)
        }
        #expect(throws: GzipError.self) { _ = try GzipFileReader(path: path).readAll() }

        _ = FileManager.default.createFile(atPath: path, contents: Data("not gzip at all".utf8))
        #expect(throws: GzipError.self) { _ = try GzipFileReader(path: path).readAll() }
        #expect(throws: GzipError.self) { _ = try GzipFileWriter(path: "/nonexistent-dir/x.gz") }
    }
}
