/// Python's string operations with its exact semantics (code points, `str.isspace()`), keeping
/// each character's origin where the result is a substring.
extension JinjaText {
    /// `strip`/`lstrip`/`rstrip`: `characters` (or whitespace when `nil`) removed from the ends.
    func stripped(_ characters: JinjaText?, leading: Bool, trailing: Bool) -> JinjaText {
        let all = scalars
        let set = characters.map { Set($0.scalars) }
        func strips(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? c.isPythonWhitespace }
        var lower = 0
        var upper = all.count
        if leading { while lower < upper, strips(all[lower]) { lower += 1 } }
        if trailing { while upper > lower, strips(all[upper - 1]) { upper -= 1 } }
        return substring(lower..<upper, of: all)
    }

    /// `split`/`rsplit` by `separator` (runs of whitespace when `nil`), at most `maxSplit` times
    /// when it is not negative.
    func split(_ separator: JinjaText?, maxSplit: Int, fromEnd: Bool) throws(JinjaError) -> [JinjaText] {
        let all = scalars
        let limit = maxSplit < 0 ? Int.max : maxSplit
        var ranges: [Range<Int>] = []
        if let separator {
            let needle = separator.scalars
            guard !needle.isEmpty else { throw JinjaError(.render, "empty separator") }
            let cuts =
                fromEnd
                ? Array(all.positionsFromEnd(of: needle).prefix(limit)).reversed()
                : Array(all.positions(of: needle).prefix(limit))
            var start = 0
            for cut in cuts {
                ranges.append(start..<cut)
                start = cut + needle.count
            }
            ranges.append(start..<all.count)
            return ranges.map { substring($0, of: all) }
        }
        // Whitespace: runs separate, the ends are ignored.
        var words: [Range<Int>] = []
        var i = 0
        while i < all.count {
            while i < all.count, all[i].isPythonWhitespace { i += 1 }
            guard i < all.count else { break }
            let start = i
            while i < all.count, !all[i].isPythonWhitespace { i += 1 }
            words.append(start..<i)
        }
        guard words.count > limit, limit != Int.max else { return words.map { substring($0, of: all) } }
        if fromEnd {
            let kept = words.suffix(limit)
            let restEnd = words[words.count - limit - 1].upperBound
            return [substring(0..<restEnd, of: all)] + kept.map { substring($0, of: all) }
        }
        let kept = words.prefix(limit)
        let restStart = words[limit].lowerBound
        return kept.map { substring($0, of: all) } + [substring(restStart..<all.count, of: all)]
    }

    /// `splitlines()`: lines without their breaks.
    func splitLines() -> [JinjaText] {
        let all = scalars
        let breaks: Set<Unicode.Scalar> = [
            "\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{85}", "\u{2028}", "\u{2029}",
        ]
        var lines: [JinjaText] = []
        var start = 0
        var i = 0
        while i < all.count {
            if breaks.contains(all[i]) {
                lines.append(substring(start..<i, of: all))
                i += all[i] == "\r" && i + 1 < all.count && all[i + 1] == "\n" ? 2 : 1
                start = i
            } else {
                i += 1
            }
        }
        if start < all.count { lines.append(substring(start..<all.count, of: all)) }
        return lines
    }
}

extension Array where Element == Unicode.Scalar {
    /// Where `needle` starts, left to right without overlaps (every position for an empty needle).
    func positions(of needle: [Unicode.Scalar]) -> [Int] {
        guard !needle.isEmpty else { return [Int](0...count) }
        var out: [Int] = []
        var i = 0
        while i + needle.count <= count {
            if self[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(i)
                i += needle.count
            } else {
                i += 1
            }
        }
        return out
    }

    /// Where `needle` starts, right to left without overlaps (as `rsplit` finds it).
    func positionsFromEnd(of needle: [Unicode.Scalar]) -> [Int] {
        var out: [Int] = []
        var i = count - needle.count
        while i >= 0 {
            if self[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(i)
                i -= needle.count
            } else {
                i -= 1
            }
        }
        return out
    }
}

extension String {
    /// `upper()`, `lower()`, `title()` or `capitalize()`.
    func pythonCase(_ method: String) -> String {
        switch method {
        case "upper": return uppercased()
        case "lower": return lowercased()
        case "capitalize":
            guard let first = unicodeScalars.first else { return self }
            return String(first).uppercased() + String(unicodeScalars.dropFirst()).lowercased()
        default:
            // title(): a cased character after a cased one is lowered, others raised.
            var out = ""
            var previousCased = false
            for c in unicodeScalars {
                out += previousCased ? String(c).lowercased() : String(c).uppercased()
                previousCased = c.properties.isCased
            }
            return out
        }
    }

    /// `replace(old, new, count)`.
    func pythonReplacing(_ old: String, with new: String, count: Int) -> String {
        let all = Array(unicodeScalars)
        let needle = Array(old.unicodeScalars)
        var positions = all.positions(of: needle)
        if count >= 0 { positions = Array(positions.prefix(count)) }
        var out = String.UnicodeScalarView()
        var i = 0
        for position in positions {
            out.append(contentsOf: all[i..<position])
            out.append(contentsOf: new.unicodeScalars)
            if needle.isEmpty, position < all.count { out.append(all[position]) }
            i = position + max(needle.count, needle.isEmpty && position < all.count ? 1 : 0)
        }
        if i < all.count { out.append(contentsOf: all[i...]) }
        return String(out)
    }

    /// `isdigit()`, `isalpha()`, `isspace()`, `isupper()` or `islower()`.
    func pythonPredicate(_ method: String) -> Bool {
        let all = Array(unicodeScalars)
        switch method {
        case "isdigit":
            return !all.isEmpty
                && all.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit }
        case "isalpha": return !all.isEmpty && all.allSatisfy { $0.properties.isAlphabetic }
        case "isspace": return !all.isEmpty && all.allSatisfy(\.isPythonWhitespace)
        default:
            let cased = all.filter { $0.properties.isCased }
            let wanted = method == "isupper" ? uppercased() : lowercased()
            return !cased.isEmpty && wanted.unicodeScalars.elementsEqual(unicodeScalars)
        }
    }
}
