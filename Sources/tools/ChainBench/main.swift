import Hashing
import Chain
import Foundation

/// Keccak-256 throughput for fixed input sizes, printed as one JSON line per size so
/// bench/keccak can put it next to the reference measured in the same run.
let usage = """
usage: chain-bench keccak [--seconds S] [--sizes 32,1024,1048576]

Hashes inputs of each size repeatedly for about S seconds (default 2) and prints
{"impl":"infrastack","size":N,"mbPerSec":X,"hashesPerSec":Y} per size.
"""

var args = Array(CommandLine.arguments.dropFirst())
if args.isEmpty || args.contains("--help") || args.contains("-h") { print(usage); exit(args.isEmpty ? 2 : 0) }
guard args.removeFirst() == "keccak" else { FileHandle.standardError.write(Data("unknown command; see --help\n".utf8)); exit(2) }
var seconds = 2.0
var sizes = [32, 1024, 1 << 20]
while !args.isEmpty {
    let flag = args.removeFirst()
    guard let value = args.first else { FileHandle.standardError.write(Data("\(flag) needs a value\n".utf8)); exit(2) }
    args.removeFirst()
    switch flag {
    case "--seconds":
        guard let s = Double(value), s > 0 else { FileHandle.standardError.write(Data("--seconds must be a positive number, got \(value)\n".utf8)); exit(2) }
        seconds = s
    case "--sizes":
        let parsed = value.split(separator: ",").compactMap { Int($0) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 > 0 }) else { FileHandle.standardError.write(Data("--sizes must be positive integers, got \(value)\n".utf8)); exit(2) }
        sizes = parsed
    default: FileHandle.standardError.write(Data("unknown flag \(flag); see --help\n".utf8)); exit(2)
    }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

for size in sizes {
    var input = [UInt8](repeating: 0, count: size)
    for i in 0..<size { input[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
    var sink: UInt8 = 0
    var count = 0
    let start = now()
    var elapsed = 0.0
    while elapsed < seconds {
        // Batch between clock reads so timing overhead stays negligible for small inputs.
        let batch = max(1, 1_000_000 / size)
        for _ in 0..<batch {
            let h = input.withUnsafeBytes { Keccak256.oneShot($0) }
            sink ^= h[0]
            input[0] = h[1]
        }
        count += batch
        elapsed = now() - start
    }
    let mb = Double(count * size) / elapsed / 1e6
    print(#"{"impl":"infrastack","size":\#(size),"mbPerSec":\#(String(format: "%.1f", mb)),"hashesPerSec":\#(Int(Double(count) / elapsed)),"sink":\#(sink)}"#)
}
