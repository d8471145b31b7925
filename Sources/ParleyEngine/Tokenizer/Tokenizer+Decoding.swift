extension Tokenizer {
    /// The raw bytes a token stands for. Control and unknown tokens give their text only when
    /// `renderSpecial` is true (default false: nothing); out-of-range ids give nothing.
    public func pieceBytes(_ id: Int32, renderSpecial: Bool = false) -> ArraySlice<UInt8> {
        guard id >= 0, Int(id) < kinds.count else { return [] }
        if !renderSpecial, kinds[Int(id)] == .control || kinds[Int(id)] == .unknown { return [] }
        return decodedBytes[Int(pieceStarts[Int(id)])..<Int(pieceStarts[Int(id) + 1])]
    }

    /// The text of a single token; a token that holds part of a UTF-8 character shows U+FFFD.
    public func piece(_ id: Int32, renderSpecial: Bool = false) -> String {
        String(decoding: pieceBytes(id, renderSpecial: renderSpecial), as: UTF8.self)
    }

    /// The text of a sequence of tokens. Invalid UTF-8 (e.g. a cut-off character) becomes U+FFFD.
    public func decode(_ ids: [Int32], renderSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { bytes.append(contentsOf: pieceBytes(id, renderSpecial: renderSpecial)) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Turns a stream of token ids into text, emitting only whole UTF-8 characters: bytes of a
/// character split across tokens are held back until the character is complete.
public struct TokenTextDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let renderSpecial: Bool
    private var pending: [UInt8] = []

    /// Creates a decoder; `renderSpecial` makes control tokens show their text (default false).
    public init(tokenizer: Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds one token and returns the text it completes (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending.append(contentsOf: tokenizer.pieceBytes(id, renderSpecial: renderSpecial))
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns whatever is held back (an incomplete character becomes U+FFFD) and resets.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the longest prefix of `bytes` that does not end inside an incomplete
    /// (but so far valid) UTF-8 sequence. Invalid bytes are not held back.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // A sequence is at most 4 bytes, so only the last 3 can start an unfinished one.
        var start = n - 1
        while start >= 0 && start >= n - 3 {
            let byte = bytes[start]
            if byte & 0xC0 != 0x80 {
                let length: Int
                switch byte {
                case 0xC2...0xDF: length = 2
                case 0xE0...0xEF: length = 3
                case 0xF0...0xF4: length = 4
                default: return n  // ASCII or an invalid lead byte: nothing to wait for
                }
                return n - start < length ? start : n
            }
            start -= 1
        }
        return n
    }
}
