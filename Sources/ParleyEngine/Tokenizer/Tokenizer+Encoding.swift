/// A piece of text to tokenize, and whether control tokens (`<|im_start|>`, …) may be recognised in it.
public struct TextPart: Sendable, Hashable {
    /// The text.
    public var text: String
    /// Whether control-token texts in ``text`` become their special tokens (default false).
    public var parseSpecial: Bool

    /// Creates a part; `parseSpecial` defaults to false (treat everything as plain text).
    public init(_ text: String, parseSpecial: Bool = false) {
        self.text = text
        self.parseSpecial = parseSpecial
    }
}

extension Tokenizer {
    /// Token ids of `text`. No BOS is added.
    /// - Parameter parseSpecial: recognise control tokens such as `<|im_start|>` in the text
    ///   (default false: their text is tokenized as plain text).
    public func encode(_ text: String, parseSpecial: Bool = false) -> [Int32] {
        encode([TextPart(text, parseSpecial: parseSpecial)])
    }

    /// Token ids of the concatenation of `parts`, recognising control tokens only inside parts
    /// that allow it. Plain text that spans parts is tokenized as one run, so the result equals
    /// tokenizing the concatenated string when no part that forbids special tokens contains one.
    /// - Parameter addBOS: put ``bosID`` first when the model asks for it (``addsBOS``); default false.
    public func encode(_ parts: [TextPart], addBOS: Bool = false) -> [Int32] {
        var scalars: [Unicode.Scalar] = []
        var fragments: [Fragment] = []
        for part in parts {
            let start = scalars.count
            scalars.append(contentsOf: part.text.unicodeScalars)
            if scalars.count > start {
                fragments.append(Fragment(range: start..<scalars.count, token: -1, allowsControl: part.parseSpecial))
            }
        }
        for special in specialTokens {
            fragments = split(fragments, on: special, in: scalars)
        }

        var output: [Int32] = []
        output.reserveCapacity(scalars.count / 3 + 1)
        if addBOS, addsBOS, let bosID { output.append(bosID) }
        var classes: [CharacterClass] = []
        if case .bytePairs = algorithm { classes = scalars.map(CharacterClass.of) }
        var words: [Range<Int>] = []
        var state = BPEState()
        // SentencePiece puts a space before text at the start and after each special token.
        var afterSpecial = true
        var index = 0
        while index < fragments.count {
            let fragment = fragments[index]
            if fragment.token >= 0 {
                output.append(fragment.token)
                afterSpecial = true
                index += 1
                continue
            }
            // Join text fragments that touch: they came from adjacent parts.
            var range = fragment.range
            index += 1
            while index < fragments.count, fragments[index].token < 0,
                fragments[index].range.lowerBound == range.upperBound
            {
                range = range.lowerBound..<fragments[index].range.upperBound
                index += 1
            }
            switch algorithm {
            case .bytePairs(let preTokenizer):
                words.removeAll(keepingCapacity: true)
                preTokenizer.split(scalars, classes, range, into: &words)
                for word in words {
                    bytePairEncode(
                        scalars[word], ignoringMerges: preTokenizer.ignoresMerges, state: &state, into: &output)
                }
            case .sentencePiece(let addSpacePrefix):
                sentencePieceEncode(scalars[range], spacePrefix: addSpacePrefix && afterSpecial, into: &output)
            }
            afterSpecial = false
        }
        return output
    }

    struct Fragment {
        var range: Range<Int>
        /// The special token this fragment is, or -1 for text.
        var token: Int32
        var allowsControl: Bool
    }

    /// Splits every text fragment that may contain `special` at each (leftmost, non-overlapping) occurrence.
    private func split(_ fragments: [Fragment], on special: SpecialToken, in scalars: [Unicode.Scalar]) -> [Fragment] {
        let needle = special.scalars
        var result: [Fragment] = []
        result.reserveCapacity(fragments.count)
        for fragment in fragments {
            guard fragment.token < 0, !special.isControl || fragment.allowsControl, fragment.range.count >= needle.count
            else {
                result.append(fragment)
                continue
            }
            var start = fragment.range.lowerBound
            var i = start
            let last = fragment.range.upperBound - needle.count
            while i <= last {
                if scalars[i] == needle[0] && scalars[i..<i + needle.count].elementsEqual(needle) {
                    if i > start {
                        result.append(Fragment(range: start..<i, token: -1, allowsControl: fragment.allowsControl))
                    }
                    result.append(Fragment(range: i..<i + needle.count, token: special.id, allowsControl: false))
                    i += needle.count
                    start = i
                } else {
                    i += 1
                }
            }
            if start < fragment.range.upperBound {
                result.append(
                    Fragment(range: start..<fragment.range.upperBound, token: -1, allowsControl: fragment.allowsControl)
                )
            }
        }
        return result
    }
}
