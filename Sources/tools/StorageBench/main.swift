// storage-bench: LMDB throughput through the Storage layer, mirroring bench/lmdb_bench.c
// operation for operation so bench/lmdb can print the overhead ratio of our layer.
import Glibc
import Storage

let usage = """
usage: storage-bench --path DIR [--entries N] [--reads N] [--batches N] [--batch-size N] [--value-size BYTES] [--seed N]

Runs in a fresh LMDB environment in DIR (created; must not hold a previous run):
  1. loads --entries keys (8-byte big-endian 0..<N, values of --value-size bytes), untimed;
  2. random point reads: --reads lookups of uniformly random keys, 1,000 per read
     transaction, once copying (get) and once borrowing (withValue);
  3. sequential appends: --batches write transactions of --batch-size appended keys,
     each committed durably (fsync).
Prints one line per measurement: <name> <operations per second>.

Defaults: --entries 1000000 --reads 1000000 --batches 200 --batch-size 1000 --value-size 32 --seed 1
"""

func fail(_ message: String) -> Never {
    let line = Array("storage-bench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(2)
}

func positiveInteger(_ text: String?, for flag: String) -> Int {
    guard let text, let value = Int(text), value > 0 else { fail("\(flag) needs a positive integer") }
    return value
}

var path: String?
var entries = 1_000_000, reads = 1_000_000, batches = 200, batchSize = 1000, valueSize = 32, seed = 1
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--help", "-h": print(usage); exit(0)
    case "--path":
        guard let directory = arguments.next() else { fail("--path needs a directory") }
        path = directory
    case "--entries": entries = positiveInteger(arguments.next(), for: argument)
    case "--reads": reads = positiveInteger(arguments.next(), for: argument)
    case "--batches": batches = positiveInteger(arguments.next(), for: argument)
    case "--batch-size": batchSize = positiveInteger(arguments.next(), for: argument)
    case "--value-size": valueSize = positiveInteger(arguments.next(), for: argument)
    case "--seed": seed = positiveInteger(arguments.next(), for: argument)
    default: fail("unknown argument '\(argument)'\n\(usage)")
    }
}
guard let path else { fail("--path is required\n\(usage)") }

/// xorshift64*, identical to the C side so both read the same key sequence.
struct XorShift {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func report(_ name: String, operations: Int, since start: Double) {
    print("\(name) \(Int(Double(operations) / (now() - start)))")
}

let readsPerTransaction = 1000
let value = [UInt8](repeating: 0xAB, count: valueSize)

do {
    var options = Environment.Options()
    options.mapSize = 1 << 30
    let environment = try Environment(path: path, options: options)
    let points = try environment.table("points")
    let log = try environment.table("log")

    var loaded = 0
    while loaded < entries {
        try environment.write { txn in
            for key in loaded..<min(loaded + 100_000, entries) { try txn.append(points, Key(UInt64(key)), value) }
        }
        loaded = min(loaded + 100_000, entries)
    }

    // Copying API with a heap-allocated Key: what typical callers write.
    var rng = XorShift(state: UInt64(seed))
    var checksum = 0
    var start = now()
    var done = 0
    while done < reads {
        try environment.read { txn in
            for _ in 0..<min(readsPerTransaction, reads - done) {
                let found = try txn.get(points, Key(rng.next() % UInt64(entries)))
                checksum &+= Int(found![0])
            }
        }
        done += readsPerTransaction
    }
    report("random_reads_copying", operations: reads, since: start)

    // Borrowing API with the key on the stack: no allocation per read.
    rng = XorShift(state: UInt64(seed))
    start = now()
    done = 0
    while done < reads {
        try environment.read { txn in
            for _ in 0..<min(readsPerTransaction, reads - done) {
                var key = (rng.next() % UInt64(entries)).bigEndian
                let first = try withUnsafeBytes(of: &key) { key in
                    try txn.withValue(points, UnsafeRawBufferPointer(key)) { $0[0] }
                }
                checksum &+= Int(first!)
            }
        }
        done += readsPerTransaction
    }
    report("random_reads_borrowing", operations: reads, since: start)

    start = now()
    for batch in 0..<batches {
        try environment.write { txn in
            for index in batch * batchSize..<(batch + 1) * batchSize {
                try txn.append(log, Key(UInt64(index)), value)
            }
        }
    }
    report("sequential_appends", operations: batches * batchSize, since: start)
    precondition(checksum == 2 * reads * 0xAB, "reads returned wrong values")
    environment.close()
} catch {
    fail("\(error)")
}
