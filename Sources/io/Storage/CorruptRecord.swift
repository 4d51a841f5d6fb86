/// A stored or replicated record that does not decode. Whoever reads one must fail, never
/// read it as "absent", "empty" or "zero"; a node that meets one while applying stops
/// (the errors of each layer that can detect it conform: a chain index record, a command).
public protocol CorruptRecord: Error, CustomStringConvertible {}
