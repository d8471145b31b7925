/// The scanners behind ``PreTokenizer``. Each walks a range of scalars once; positions outside the
/// range read as "end" so that look-ahead never crosses a fragment boundary.
struct PreTokenizerText {
    let scalars: [Unicode.Scalar]
    let classes: [CharacterClass]

    private static let apostrophe: UInt32 = 0x27
    static let space: UInt32 = 0x20
    static let carriageReturn: UInt32 = 0x0D
    static let lineFeed: UInt32 = 0x0A

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive; returns the contraction's length or 0.
    func contraction(at pos: Int, end: Int, ignoringCase: Bool) -> Int {
        guard scalars[pos].value == Self.apostrophe, pos + 1 < end else { return 0 }
        func lower(_ i: Int) -> UInt32 {
            let v = scalars[i].value
            return ignoringCase && v >= 0x41 && v <= 0x5A ? v + 0x20 : v
        }
        switch lower(pos + 1) {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        default: break
        }
        guard pos + 2 < end else { return 0 }
        switch (lower(pos + 1), lower(pos + 2)) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return 3  // re ve ll
        default: return 0
        }
    }

    @inline(__always)
    func isOther(_ i: Int, _ end: Int) -> Bool {
        i < end && classes[i].isEmpty
    }

    @inline(__always)
    func has(_ i: Int, _ end: Int, _ c: CharacterClass) -> Bool {
        i < end && classes[i].contains(c)
    }

    /// Whitespace handling shared by both scanners: `\s+(?!\S)|\s+` from `pos`; returns the end.
    private func whitespaceRun(from pos: Int, end: Int) -> Int {
        var n = pos
        while has(n, end, .whitespace) { n += 1 }
        // More than one space followed by a non-space: leave the last space to the next word.
        if n - pos > 1 && n < end { return n - 1 }
        return n
    }

    func splitGPT2(_ range: Range<Int>, into words: inout [Range<Int>]) {
        let end = range.upperBound
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let length = contraction(at: pos, end: end, ignoringCase: false)
            if length > 0 {
                pos += length
                words.append(start..<pos)
                continue
            }
            // An optional leading space, then a run of one class.
            let body = scalars[pos].value == Self.space ? pos + 1 : pos
            if has(body, end, .letter) {
                pos = body
                while has(pos, end, .letter) { pos += 1 }
            } else if has(body, end, .number) {
                pos = body
                while has(pos, end, .number) { pos += 1 }
            } else if isOther(body, end) {
                pos = body
                while isOther(pos, end) { pos += 1 }
            } else if has(pos, end, .whitespace) {
                pos = whitespaceRun(from: pos, end: end)
            } else {
                pos += 1
            }
            words.append(start..<pos)
        }
    }

    /// Llama 3's regex (see ``PreTokenizer``), whose `\p{N}{1,3}` takes `digitRun` digits at most
    /// (Qwen2's takes one).
    func splitLlama3(_ range: Range<Int>, digitRun: Int = 3, into words: inout [Range<Int>]) {
        let end = range.upperBound
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let value = scalars[pos].value
            let length = contraction(at: pos, end: end, ignoringCase: true)
            if length > 0 {
                pos += length
                words.append(start..<pos)
                continue
            }
            let isNewline = value == Self.carriageReturn || value == Self.lineFeed
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !isNewline, !classes[pos].contains(.number),
                classes[pos].contains(.letter) || has(pos + 1, end, .letter)
            {
                pos += 1
                while has(pos, end, .letter) { pos += 1 }
                words.append(start..<pos)
                continue
            }
            // \p{N}{1,digitRun}
            if classes[pos].contains(.number) {
                while has(pos, end, .number) && pos - start < digitRun { pos += 1 }
                words.append(start..<pos)
                continue
            }
            pos = punctuationOrWhitespace(at: pos, end: end)
            words.append(start..<pos)
        }
    }

    /// The alternatives the Llama 3 family of regexes ends with, from `pos` (which starts no letter
    /// or number word); returns the word's end:
    /// ` ?[^\s\p{L}\p{N}]+[\r\n]*` (with `slashTail`, `[\r\n/]*`), `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`.
    func punctuationOrWhitespace(at pos: Int, end: Int, slashTail: Bool = false) -> Int {
        let body = scalars[pos].value == Self.space ? pos + 1 : pos
        if isOther(body, end) {
            var n = body
            while isOther(n, end) { n += 1 }
            while n < end {
                let v = scalars[n].value
                guard v == Self.carriageReturn || v == Self.lineFeed || (slashTail && v == 0x2F) else { break }
                n += 1
            }
            return n
        }
        // \s*[\r\n]+ : a whitespace run up to and including its last newline.
        var n = pos
        var afterLastNewline = -1
        while has(n, end, .whitespace) {
            let v = scalars[n].value
            if v == Self.carriageReturn || v == Self.lineFeed { afterLastNewline = n + 1 }
            n += 1
        }
        if afterLastNewline > 0 { return afterLastNewline }
        if n > pos { return whitespaceRun(from: pos, end: end) }
        return pos + 1
    }
}
