// storage-crash-writer: the child process of the storage crash test. It commits
// numbered write transactions forever (or up to --count) and reports each one on stdout
// only after its commit returned, so a parent that SIGKILLs it knows which commits are
// durable. Each transaction writes several keys, so a torn commit would be visible.
import Glibc
import Storage

let usage = """
usage: storage-crash-writer --path DIR [--keys-per-txn K] [--value-size BYTES] [--count N] [--map-size BYTES]

Appends numbered write transactions to the LMDB environment in DIR, continuing after the
last committed number found there, and prints "committed <n>" (flushed) after each commit.

  --path DIR          environment directory (created if missing)
  --keys-per-txn K    keys written per transaction (default 8)
  --value-size BYTES  bytes per value (default 512)
  --count N           stop after N transactions (default: run until killed)
  --map-size BYTES    initial map size; small values exercise map growth (default 262144)
  --help              show this help

Layout (read by the crash test): table "txns" holds key (n: UInt64 BE, j: UInt16 BE) ->
value CrashTestLayout.value(n, j) for j in 0..<K; table "meta" holds "last" -> n.
"""

func fail(_ message: String) -> Never {
    let line = Array("storage-crash-writer: \(message)\n".utf8)
    _ = line.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(2)
}

var path: String?
var keysPerTransaction = 8
var valueSize = 512
var count = Int.max
var mapSize = 256 << 10
var arguments = CommandLine.arguments.dropFirst().makeIterator()
func positiveInteger(_ text: String?, for flag: String) -> Int {
    guard let text, let value = Int(text), value > 0 else { fail("\(flag) needs a positive integer") }
    return value
}
while let argument = arguments.next() {
    switch argument {
    case "--help", "-h": print(usage); exit(0)
    case "--path":
        guard let directory = arguments.next() else { fail("--path needs a directory") }
        path = directory
    case "--keys-per-txn": keysPerTransaction = positiveInteger(arguments.next(), for: argument)
    case "--value-size": valueSize = positiveInteger(arguments.next(), for: argument)
    case "--count": count = positiveInteger(arguments.next(), for: argument)
    case "--map-size": mapSize = positiveInteger(arguments.next(), for: argument)
    default: fail("unknown argument '\(argument)'\n\(usage)")
    }
}
guard let path else { fail("--path is required\n\(usage)") }
guard keysPerTransaction <= Int(UInt16.max) else { fail("--keys-per-txn must be at most \(UInt16.max)") }

do {
    var options = Environment.Options()
    options.mapSize = mapSize
    let environment = try Environment(path: path, options: options)
    let txns = try environment.table("txns")
    let meta = try environment.table("meta")
    let lastKey = Array("last".utf8)
    let lastCommitted: UInt64 = try environment.read { txn in
        guard let stored = try txn.get(meta, lastKey) else { return 0 }
        var reader = KeyReader(stored)
        guard let last = reader.readUInt64() else { fail("meta 'last' is not a UInt64 in \(path)") }
        return last
    }
    for number in lastCommitted + 1...lastCommitted + UInt64(min(count, 1 << 62)) {
        try environment.write { txn in
            for index in 0..<UInt16(keysPerTransaction) {
                try txn.put(txns, Key(number).appending(index), CrashTestLayout.value(number, index, size: valueSize))
            }
            try txn.put(meta, lastKey, Key(number))
        }
        print("committed \(number)")
        fflush(nil)  // all streams: the parent must see the line before the next transaction starts
    }
} catch {
    fail("\(error)")
}
