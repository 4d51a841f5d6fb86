import Foundation

/// SplitMix64: small, fast and seedable, so every randomized test replays from its seed.
/// Shared by every test target.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// The seed for a randomized test: INFRASTACK_SEED replays one; otherwise a fresh one.
    /// Tests put it in every failure message.
    public static func seed() -> UInt64 {
        if let s = ProcessInfo.processInfo.environment["INFRASTACK_SEED"], let v = UInt64(s) { return v }
        return UInt64.random(in: 0...UInt64.max)
    }

    /// Like `seed()`, and prints it with the test's name so a crash (not just a failed
    /// expectation) can be replayed too.
    public static func seed(_ test: String) -> UInt64 {
        let s = seed()
        print("\(test): seed \(s) (replay with INFRASTACK_SEED=\(s))")
        return s
    }
}

/// A test precondition that did not hold, with a message saying which.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
