/// The scanner of the GPT-4o and Tekken pre-tokenizers, whose words split at case changes, as
/// llama.cpp runs them: its regexes read "upper" as a letter that is not ASCII `a-z` and "lower" as
/// a letter that is not ASCII `A-Z`, so a non-ASCII letter is both (and combining marks are not
/// letters):
///
/// `P?U*L+C?|P?U+L*C?|\p{N}{1,n}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
///
/// with `P` = `[^\r\n\p{L}\p{N}]`, `C` the contractions `'s|'t|'re|'ve|'m|'ll|'d` in any case
/// (GPT-4o only), `n` 3 (GPT-4o) or 1 (Tekken).
extension PreTokenizerText {
    func splitCased(_ range: Range<Int>, contractions: Bool, digitRun: Int, into words: inout [Range<Int>]) {
        let end = range.upperBound
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            if let wordEnd = casedWord(at: pos, end: end) {
                pos = wordEnd
                if contractions { pos += contraction(at: pos, end: end, ignoringCase: true) }
            } else if classes[pos].contains(.number) {
                while has(pos, end, .number) && pos - start < digitRun { pos += 1 }
            } else {
                pos = punctuationOrWhitespace(at: pos, end: end, slashTail: true)
            }
            words.append(start..<pos)
        }
    }

    /// The end of `P?U*L+` or else `P?U+L*` at `pos` (before any contraction); nil if neither matches.
    private func casedWord(at pos: Int, end: Int) -> Int? {
        let value = scalars[pos].value
        let isPrefix = value != Self.carriageReturn && value != Self.lineFeed && !classes[pos].contains(.letter)
            && !classes[pos].contains(.number)
        // With a prefix character the letters start after it; without one they start here.
        for start in isPrefix ? [pos + 1, pos] : [pos] {
            if let wordEnd = upperThenLower(from: start, end: end) { return wordEnd }
        }
        for start in isPrefix ? [pos + 1, pos] : [pos] {
            var n = start
            while isUpper(n, end) { n += 1 }
            if n > start {
                while isLower(n, end) { n += 1 }
                return n
            }
        }
        return nil
    }

    /// `U*L+` from `start`, as a backtracking regex matches it: the upper run as long as it can
    /// be while a lower letter follows (a letter that is both may end the upper run and start the
    /// lower one), then the longest lower run.
    private func upperThenLower(from start: Int, end: Int) -> Int? {
        var upperEnd = start
        while isUpper(upperEnd, end) { upperEnd += 1 }
        var split = upperEnd
        while split >= start {
            if isLower(split, end) {
                var n = split
                while isLower(n, end) { n += 1 }
                return n
            }
            split -= 1
        }
        return nil
    }

    /// A letter other than ASCII `a-z`.
    @inline(__always)
    private func isUpper(_ i: Int, _ end: Int) -> Bool {
        has(i, end, .letter) && !(0x61...0x7A).contains(scalars[i].value)
    }

    /// A letter other than ASCII `A-Z`.
    @inline(__always)
    private func isLower(_ i: Int, _ end: Int) -> Bool {
        has(i, end, .letter) && !(0x41...0x5A).contains(scalars[i].value)
    }
}
