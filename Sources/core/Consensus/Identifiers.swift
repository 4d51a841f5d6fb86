/// Identifies a cluster member. Zero means "nobody" (no leader known, no vote cast).
public typealias NodeID = UInt64

extension NodeID {
    /// The absent node: used for "no leader known" and "has not voted".
    public static let none: NodeID = 0
}
