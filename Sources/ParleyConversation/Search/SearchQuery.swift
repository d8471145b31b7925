/// A parsed search query in Parley's own syntax, turned into an FTS5 expression built only from
/// letters, digits and our own quotes and operators — user text never reaches MATCH as syntax.
///
/// Syntax: whitespace-separated words (all must match); `"a phrase"`; `term*` (prefix, at least
/// two characters); `-term` or `-"a phrase"` (exclude). Punctuation inside a word splits it into
/// a phrase of its parts, as the `unicode61` tokenizer splits stored text (`don't` → `don t`).
struct SearchQuery: Hashable, Sendable {
    /// One matchable unit: a phrase of one or more tokens, optionally a prefix on its last token.
    struct Term: Hashable, Sendable {
        var tokens: [String]
        var prefix: Bool
    }

    var include: [Term] = []
    var exclude: [Term] = []

    /// Whether nothing can match (no positive term).
    var isEmpty: Bool { include.isEmpty }

    init(parsing text: String, maxTerms: Int = 16) {
        var chars = Array(text)
        if chars.count > 4 * maxTerms * 64 { chars = Array(chars.prefix(4 * maxTerms * 64)) }
        var i = 0
        var seen = Set<Term>()
        func add(_ term: Term, negated: Bool) {
            guard !term.tokens.isEmpty, include.count + exclude.count < maxTerms, !seen.contains(term) else { return }
            seen.insert(term)
            if negated { exclude.append(term) } else { include.append(term) }
        }
        while i < chars.count {
            if chars[i].isWhitespace {
                i += 1
                continue
            }
            var negated = false
            if chars[i] == "-" {
                negated = true
                i += 1
                guard i < chars.count, !chars[i].isWhitespace else { continue }
            }
            if chars[i] == "\"" {
                i += 1
                var body: [Character] = []
                while i < chars.count, chars[i] != "\"" {
                    body.append(chars[i])
                    i += 1
                }
                i += 1  // closing quote (or end of input: an unclosed phrase ends there)
                var prefix = false
                if i < chars.count, chars[i] == "*" {
                    prefix = true
                    i += 1
                }
                add(Self.term(body, prefix: prefix), negated: negated)
                continue
            }
            var body: [Character] = []
            while i < chars.count, !chars[i].isWhitespace, chars[i] != "\"" {
                body.append(chars[i])
                i += 1
            }
            var prefix = false
            if body.last == "*" {
                prefix = true
                while body.last == "*" { body.removeLast() }
            }
            add(Self.term(body, prefix: prefix), negated: negated)
        }
    }

    private static func term(_ chars: [Character], prefix: Bool) -> Term {
        var tokens: [String] = []
        var current = ""
        for char in chars {
            if char.isLetter || char.isNumber {
                current.append(char)
                if current.unicodeScalars.count > 64 {  // longer words are cut, like any stored one would match
                    tokens.append(current)
                    current = ""
                }
            } else if !current.isEmpty {
                tokens.append(current)
                current = ""
            }
        }
        if !current.isEmpty { tokens.append(current) }
        let isPrefix = prefix && (tokens.last?.count ?? 0) >= 2
        return Term(tokens: tokens, prefix: isPrefix)
    }

    /// Matches every message of the owner (for the per-user document count).
    static func ownerExpression(ownerTag: String) -> String {
        "owner_tag : \"\(ownerTag)\""
    }

    /// Matches the owner's messages containing `term` (for its per-user document frequency).
    static func termExpression(ownerTag: String, term: Term) -> String {
        "owner_tag : \"\(ownerTag)\" AND body : " + render(term)
    }

    private static func render(_ term: Term) -> String {
        "\"" + term.tokens.joined(separator: " ") + "\"" + (term.prefix ? " *" : "")
    }

    /// The FTS5 expression restricted to `ownerTag` (which we build, e.g. `u42`) and the `body`
    /// column; `nil` when nothing can match. Its phrases are numbered (as FTS5 numbers them)
    /// 0 = the owner tag, then ``include`` in order, then ``exclude``.
    func matchExpression(ownerTag: String) -> String? {
        guard !include.isEmpty else { return nil }
        let render = Self.render
        var expression = "owner_tag : \"\(ownerTag)\" AND (body : (" + include.map(render).joined(separator: " AND ") + ")"
        if !exclude.isEmpty {
            expression += " NOT body : (" + exclude.map(render).joined(separator: " OR ") + ")"
        }
        return expression + ")"
    }
}
