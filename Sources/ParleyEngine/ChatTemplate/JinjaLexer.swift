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
/// Whitespace between tags is dropped where Jinja (with `trim_blocks` and `lstrip_blocks`, as
/// Hugging Face renders chat templates) would not emit it; any other text stays a `.text` token.
enum JinjaLexer {
    struct Failure: Error {
        var message: String
    }

    static func tokenize(_ source: String) throws(Failure) -> [JinjaToken] {
        let chars = Array(source.unicodeScalars)
        var tokens: [JinjaToken] = []
        var i = 0
        var text = ""
        var trimNextText = false  // the previous tag ended with `-%}` / `-}}`
        var afterStatement = false  // the previous tag was `%}` (trim_blocks)

        func flushText(nextTrims: Bool, nextIsStatement: Bool) {
            defer { text = "" }
            guard !text.isEmpty else { return }
            let blank = text.unicodeScalars.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
            if blank && (trimNextText || nextTrims) { return }
            var t = text
            if afterStatement, t.hasPrefix("\n") { t.removeFirst() }  // trim_blocks
            if nextIsStatement {  // lstrip_blocks: spaces and tabs before `{%` on its line
                while let last = t.last, last == " " || last == "\t" { t.removeLast() }
            }
            if !t.isEmpty { tokens.append(.text(t)) }
        }

        while i < chars.count {
            let c = chars[i]
            let next = i + 1 < chars.count ? chars[i + 1] : " "
            guard c == "{", next == "%" || next == "{" || next == "#" else {
                text.unicodeScalars.append(c)
                i += 1
                continue
            }
            let dash = i + 2 < chars.count && chars[i + 2] == "-"
            if next == "#" {
                // A comment: skip to `#}`.
                flushText(nextTrims: dash, nextIsStatement: true)
                var j = i + 2
                while j + 1 < chars.count && !(chars[j] == "#" && chars[j + 1] == "}") { j += 1 }
                guard j + 1 < chars.count else { throw Failure(message: "unterminated comment") }
                trimNextText = chars[j - 1] == "-"
                afterStatement = true
                i = j + 2
                continue
            }
            let tag: JinjaTag = next == "%" ? .statement : .expression
            flushText(nextTrims: dash, nextIsStatement: tag == .statement)
            tokens.append(.open(tag))
            i += dash || (i + 2 < chars.count && chars[i + 2] == "+") ? 3 : 2
            // Tokens inside the tag up to its close.
            let closer: Unicode.Scalar = tag == .statement ? "%" : "}"
            var closed = false
            while i < chars.count {
                let ch = chars[i]
                if ch == " " || ch == "\t" || ch == "\n" || ch == "\r" {
                    i += 1
                    continue
                }
                if ch == "-" || ch == "+", i + 2 < chars.count, chars[i + 1] == closer, chars[i + 2] == "}" {
                    trimNextText = ch == "-"
                    i += 3
                    closed = true
                    break
                }
                if ch == closer, i + 1 < chars.count, chars[i + 1] == "}" {
                    trimNextText = false
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
                    while j < chars.count && (("0"..."9").contains(chars[j]) || chars[j] == ".") { j += 1 }
                    tokens.append(.number(String(String.UnicodeScalarView(chars[i..<j]))))
                    i = j
                } else {
                    let two = i + 1 < chars.count ? String(String.UnicodeScalarView([ch, chars[i + 1]])) : ""
                    if ["==", "!=", "<=", ">=", "//", "**"].contains(two) {
                        tokens.append(.symbol(two))
                        i += 2
                    } else {
                        tokens.append(.symbol(String(ch)))
                        i += 1
                    }
                }
            }
            guard closed else { throw Failure(message: "unterminated tag") }
            tokens.append(.close(tag))
            afterStatement = tag == .statement
        }
        flushText(nextTrims: false, nextIsStatement: false)
        return normalize(tokens)
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
