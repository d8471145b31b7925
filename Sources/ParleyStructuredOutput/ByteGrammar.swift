/// A grammar an answer is read against one byte at a time, as constrained decoding checks each
/// candidate token: every byte either continues what was read so far or breaks it, for good.
public protocol ByteGrammar: Sendable {
    /// Reads one byte; false (and failed from then on) when it cannot continue what was read.
    @discardableResult
    mutating func read(_ byte: UInt8) -> Bool
    /// Whether what was read is whole: nothing but the end may follow.
    var isComplete: Bool { get }
    /// Whether a byte broke the grammar.
    var hasFailed: Bool { get }
}

extension ByteGrammar {
    /// Reads `bytes`; false (and failed from then on) at the first that cannot continue.
    @discardableResult
    public mutating func read<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Bool {
        for byte in bytes where !read(byte) { return false }
        return true
    }
}
