import Foundation

/// Shared knobs and mutations for the seeded parser fuzz tests (the *ParserFuzzTests suites).
/// CI runs a few thousand cases per parser; `chaos/parser-fuzz` runs the same tests long.
///
/// - `INFRASTACK_FUZZ_SEED=S` replays exactly one seed;
///   otherwise one fresh random seed (printed first) and then a fixed default seed run.
/// - `INFRASTACK_FUZZ_ITERATIONS=N` sets the cases per seed.
public enum Fuzz {
    public static let defaultSeed: UInt64 = 0x1F2A_57AC_C0FF_EE01

    /// The seeds to run, each printed with the test's name before any case runs, so even a
    /// crash (not just a failed expectation) can be replayed.
    public static func seeds(_ test: String) -> [UInt64] {
        if let s = ProcessInfo.processInfo.environment["INFRASTACK_FUZZ_SEED"], let v = UInt64(s) {
            print("\(test): seed \(v) (from INFRASTACK_FUZZ_SEED)")
            return [v]
        }
        let fresh = UInt64.random(in: 0...UInt64.max)
        print("\(test): seeds \(fresh) (fresh) and \(defaultSeed) (default); replay one with INFRASTACK_FUZZ_SEED=<seed>")
        return [fresh, defaultSeed]
    }

    /// Cases per seed: INFRASTACK_FUZZ_ITERATIONS, else `ci`.
    public static func iterations(ci: Int) -> Int {
        if let s = ProcessInfo.processInfo.environment["INFRASTACK_FUZZ_ITERATIONS"], let v = Int(s), v > 0 { return v }
        return ci
    }

    /// A few random edits of `input`: bit flips, bytes from `interesting` (the parser's own
    /// delimiters, so mutations reach deep states), deletions, duplications, truncation.
    public static func mutate(_ input: [UInt8], _ rng: inout SeededRandom, interesting: [UInt8]) -> [UInt8] {
        var s = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let pos = s.isEmpty ? 0 : Int.random(in: 0..<s.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !s.isEmpty: s[pos] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            case 1 where !s.isEmpty: s[pos] = interesting.randomElement(using: &rng) ?? 0
            case 2: s.insert(interesting.randomElement(using: &rng) ?? 0, at: pos)
            case 3 where !s.isEmpty: s.removeSubrange(pos..<min(s.count, pos + Int.random(in: 1...8, using: &rng)))
            case 4 where !s.isEmpty:
                let end = min(s.count, pos + Int.random(in: 1...32, using: &rng))
                s.insert(contentsOf: s[pos..<end], at: pos)
            case 5: s = Array(s.prefix(pos))
            default: s.insert(UInt8.random(in: 0...255, using: &rng), at: pos)
            }
        }
        return s
    }

    /// Runs `body` on a new thread with the given stack (the production worker's, so a stack
    /// overflow shows up exactly as it would in a handler) and waits for it.
    public static func onThread<T: Sendable>(stackSize: Int, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            box.result = Result { try body() }
            done.signal()
        }
        t.stackSize = stackSize
        t.start()
        done.wait()
        return try box.result!.get()
    }
}

/// Carries a thread's result back to the waiting caller (written before the semaphore signals).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

extension Fuzz {
    /// An expectation for code running on a thread of its own (`onThread`), where Swift Testing
    /// cannot attribute `#expect` to the test: it throws, and `onThread` hands the error back.
    public static func check(_ condition: Bool, _ message: @autoclosure () -> String, file: String = #fileID, line: Int = #line) throws {
        if !condition { throw TestFailure("\(file):\(line): \(message())") }
    }

    /// Expects `body` to throw an `E`, returning it.
    @discardableResult
    public static func expectError<E: Error>(_ type: E.Type, _ message: @autoclosure () -> String, file: String = #fileID, line: Int = #line,
                                             _ body: () throws(E) -> Void) throws -> E {
        do { try body() } catch { return error }
        throw TestFailure("\(file):\(line): no \(E.self) thrown: \(message())")
    }
}
