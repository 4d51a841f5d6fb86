/// Test fixture, not storage API: the value `storage-crash-writer` stores for key (transaction `number`, `index`), shared
/// with the crash test so it can tell intact values from torn ones.
public enum CrashTestLayout {
    public static func value(_ number: UInt64, _ index: UInt16, size: Int) -> [UInt8] {
        var state = number &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index)
        return (0..<size).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }
}
