/// A token of a Jinja template, after the normalizations ``JinjaLexer`` applies.
enum JinjaToken: Equatable, Sendable {
    /// Literal template text outside tags that is emitted as is.
    case text(String)
    /// `{%` or `{{` (with or without whitespace control).
    case open(JinjaTag)
    /// `%}` or `}}`.
    case close(JinjaTag)
    case identifier(String)
    /// A string literal, escapes decoded; adjacent `'a' + 'b'` are folded into one.
    case string(String)
    case number(String)
    case symbol(String)
}

extension JinjaToken {
    /// Whether `.name` after this token is an attribute access (after a name or a closing bracket).
    var canBeSubscripted: Bool {
        switch self {
        case .identifier: true
        case .symbol("]"), .symbol(")"): true
        default: false
        }
    }
}

enum JinjaTag: Equatable, Sendable {
    case statement, expression
}

/// Splits a Jinja template into tokens so that templates differing only in spelling (quotes,
/// whitespace, whitespace control, `x.y` vs `x['y']`, split string literals) compare equal.
///
/// Text outside tags becomes a `.text` token holding what jinja2 would emit for it, with the
/// settings Hugging Face renders chat templates with: newlines normalized and one trailing newline
/// dropped, `-` signs stripping whitespace, `trim_blocks` (the newline after a statement or comment)
/// and `lstrip_blocks` (spaces before a statement or comment that starts its line).
enum JinjaLexer {
    struct Failure: Error {
        var message: String
    }

    /// The tokens of `source`; `normalized` (for comparing shapes) rewrites `x.y` as `x['y']` and
    /// folds `'a' + 'b'`, which the interpreter must not have (`'a' + 'b'|upper` is not `'AB'`).
    static func tokenize(_ source: String, normalized: Bool = true) throws(Failure) -> [JinjaToken] {
        let chars = normalizedNewlines(source)
        var tokens: [JinjaToken] = []
        var i = 0
        var text = String.UnicodeScalarView()
        var lineStarting = true  // the pending text starts a line

        /// Emits the pending text before a tag opened with `sign` (`-`, `+` or none); `lstrips`
        /// for statements and comments.
        func flushText(sign: Unicode.Scalar?, lstrips: Bool) {
            defer { text = String.UnicodeScalarView() }
            var t = Array(text)
            if sign == "-" {
                while let last = t.last, last.isPythonWhitespace { t.removeLast() }
            } else if lstrips, sign != "+" {
                let lineStart = t.lastIndex(of: "\n").map { $0 + 1 } ?? 0
                if lineStart > 0 || lineStarting, lineStart < t.count,
                    t[lineStart...].allSatisfy(\.isPythonWhitespace)
                {
                    t.removeSubrange(lineStart...)
                }
            }
            if !t.isEmpty { tokens.append(.text(String(String.UnicodeScalarView(t)))) }
        }

        /// Skips what a tag's end takes with it: all whitespace after `-`, the newline after a
        /// statement or comment (`trim_blocks`) unless `+`.
        func skipAfterTag(sign: Unicode.Scalar?, trimsBlock: Bool) {
            lineStarting = false
            if sign == "-" {
                while i < chars.count, chars[i].isPythonWhitespace {
                    lineStarting = chars[i] == "\n"
                    i += 1
                }
            } else if trimsBlock, sign != "+", i < chars.count, chars[i] == "\n" {
                lineStarting = true
                i += 1
            }
        }

        while i < chars.count {
            let c = chars[i]
            let next = i + 1 < chars.count ? chars[i + 1] : " "
            guard c == "{", next == "%" || next == "{" || next == "#" else {
                text.append(c)
                i += 1
                continue
            }
            let openSign: Unicode.Scalar? =
                i + 2 < chars.count && (chars[i + 2] == "-" || chars[i + 2] == "+") ? chars[i + 2] : nil
            if next == "#" {
                // A comment: skip to `#}`.
                flushText(sign: openSign, lstrips: true)
                var j = i + 2
                while j + 1 < chars.count && !(chars[j] == "#" && chars[j + 1] == "}") { j += 1 }
                guard j + 1 < chars.count else { throw Failure(message: "unterminated comment") }
                let closeSign: Unicode.Scalar? = chars[j - 1] == "-" || chars[j - 1] == "+" ? chars[j - 1] : nil
                i = j + 2
                skipAfterTag(sign: closeSign, trimsBlock: true)
                continue
            }
            let tag: JinjaTag = next == "%" ? .statement : .expression
            flushText(sign: openSign, lstrips: tag == .statement)
            tokens.append(.open(tag))
            i += openSign == nil ? 2 : 3
            // Tokens inside the tag up to its close.
            let closer: Unicode.Scalar = tag == .statement ? "%" : "}"
            var closeSign: Unicode.Scalar?
            var closed = false
            // Open brackets: as in jinja2, `}}` inside `{…}` closes brackets, not the tag.
            var depth = 0
            while i < chars.count {
                let ch = chars[i]
                if ch == " " || ch == "\t" || ch == "\n" || ch == "\r" {
                    i += 1
                    continue
                }
                if depth == 0, ch == "-" || ch == "+", i + 2 < chars.count, chars[i + 1] == closer, chars[i + 2] == "}"
                {
                    closeSign = ch
                    i += 3
                    closed = true
                    break
                }
                if depth == 0, ch == closer, i + 1 < chars.count, chars[i + 1] == "}" {
                    i += 2
                    closed = true
                    break
                }
                if ch == "'" || ch == "\"" {
                    let (value, end) = try stringLiteral(chars, from: i)
                    tokens.append(.string(value))
                    i = end
                } else if ch.properties.isAlphabetic || ch == "_" {
                    var j = i
                    while j < chars.count
                        && (chars[j].properties.isAlphabetic || chars[j] == "_" || ("0"..."9").contains(chars[j]))
                    { j += 1 }
                    tokens.append(.identifier(String(String.UnicodeScalarView(chars[i..<j]))))
                    i = j
                } else if ("0"..."9").contains(ch) {
                    var j = i
                    // Digits, and one `.` followed by digits (`messages.0.role` is an item lookup).
                    var seenDot = false
                    while j < chars.count {
                        if ("0"..."9").contains(chars[j]) {
                            j += 1
                        } else if chars[j] == ".", !seenDot, j + 1 < chars.count, ("0"..."9").contains(chars[j + 1]) {
                            seenDot = true
                            j += 1
                        } else {
                            break
                        }
                    }
                    // An exponent (`1e3`, `2.5E-4`).
                    if j + 1 < chars.count, chars[j] == "e" || chars[j] == "E" {
                        let sign = chars[j + 1] == "+" || chars[j + 1] == "-" ? 1 : 0
                        if j + 1 + sign < chars.count, ("0"..."9").contains(chars[j + 1 + sign]) {
                            j += 1 + sign
                            while j < chars.count && ("0"..."9").contains(chars[j]) { j += 1 }
                        }
                    }
                    tokens.append(.number(String(String.UnicodeScalarView(chars[i..<j]))))
                    i = j
                } else {
                    let two = i + 1 < chars.count ? String(String.UnicodeScalarView([ch, chars[i + 1]])) : ""
                    if ["==", "!=", "<=", ">=", "//", "**"].contains(two) {
                        tokens.append(.symbol(two))
                        i += 2
                    } else {
                        if ch == "(" || ch == "[" || ch == "{" { depth += 1 }
                        if ch == ")" || ch == "]" || ch == "}" { depth = max(depth - 1, 0) }
                        tokens.append(.symbol(String(ch)))
                        i += 1
                    }
                }
            }
            guard closed else { throw Failure(message: "unterminated tag") }
            tokens.append(.close(tag))
            skipAfterTag(sign: closeSign, trimsBlock: tag == .statement)
        }
        flushText(sign: nil, lstrips: false)
        return normalized ? normalize(tokens) : tokens
    }

    /// The source as jinja2 reads it: `\r\n` and `\r` become `\n`, and one final newline is dropped
    /// (`keep_trailing_newline` is off).
    private static func normalizedNewlines(_ source: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(source.unicodeScalars.count)
        var afterCR = false
        for c in source.unicodeScalars {
            if c == "\n" && afterCR {
                afterCR = false
                continue
            }
            afterCR = c == "\r"
            out.append(afterCR ? "\n" : c)
        }
        if out.last == "\n" { out.removeLast() }
        return out
    }

    private static func stringLiteral(_ chars: [Unicode.Scalar], from start: Int) throws(Failure) -> (String, Int) {
        let quote = chars[start]
        var value = ""
        var i = start + 1
        while i < chars.count {
            let c = chars[i]
            if c == quote { return (value, i + 1) }
            if c == "\\", i + 1 < chars.count {
                let e = chars[i + 1]
                switch e {
                case "n": value += "\n"
                case "t": value += "\t"
                case "r": value += "\r"
                case "\\", "'", "\"": value.unicodeScalars.append(e)
                case "a": value += "\u{07}"
                case "b": value += "\u{08}"
                case "f": value += "\u{0C}"
                case "v": value += "\u{0B}"
                case "x", "u", "U":
                    // Python's `\xhh`, `\uhhhh` and `\Uhhhhhhhh`.
                    let digits = e == "x" ? 2 : e == "u" ? 4 : 8
                    let hex =
                        i + 2 + digits <= chars.count
                        ? String(String.UnicodeScalarView(chars[(i + 2)..<(i + 2 + digits)])) : ""
                    guard hex.count == digits, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code)
                    else {
                        throw Failure(message: "invalid \\\(e) escape in a string literal")
                    }
                    value.unicodeScalars.append(scalar)
                    i += 2 + digits
                    continue
                default:
                    value += "\\"
                    value.unicodeScalars.append(e)
                }
                i += 2
                continue
            }
            value.unicodeScalars.append(c)
            i += 1
        }
        throw Failure(message: "unterminated string literal")
    }

    /// `x.y` → `x['y']`; `'a' + 'b'` → `'ab'`.
    private static func normalize(_ input: [JinjaToken]) -> [JinjaToken] {
        var out: [JinjaToken] = []
        var i = 0
        while i < input.count {
            if case .symbol(".") = input[i], i + 1 < input.count, case .identifier(let name) = input[i + 1],
                let last = out.last, last.canBeSubscripted
            {
                out.append(contentsOf: [.symbol("["), .string(name), .symbol("]")])
                i += 2
                continue
            }
            if case .string(let right) = input[i], out.count >= 2, case .symbol("+") = out[out.count - 1],
                case .string(let left) = out[out.count - 2]
            {
                out.removeLast(2)
                out.append(.string(left + right))
                i += 1
                continue
            }
            out.append(input[i])
            i += 1
        }
        return out
    }
}
