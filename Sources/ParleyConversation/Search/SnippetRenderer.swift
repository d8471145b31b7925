import Foundation
import ParleyProtocol

/// Turns FTS5 `snippet()` output into safe HTML on one line: matched terms in `<mark>…</mark>`,
/// everything else HTML-escaped, line breaks and other whitespace runs folded into one space (a
/// snippet is a preview in a list; a line break would glue words together in clients that drop it).
/// The match markers are per-query random strings from the Unicode private use area, so text in a
/// message cannot forge or break them.
struct SnippetRenderer: Sendable {
    let open: String
    let close: String

    init(using random: inout some RandomNumberGenerator) {
        let nonce = String(random.next() as UInt64, radix: 36)
        open = "\u{E000}\(nonce)\u{E001}"
        close = "\u{E002}\(nonce)\u{E003}"
    }

    func html(_ snippet: String) -> String {
        var out = ""
        var rest = Substring(snippet.foldedToOneLine)
        var inMatch = false
        while !rest.isEmpty {
            let marker = inMatch ? close : open
            guard let range = rest.range(of: marker) else {
                out += Self.escape(rest)
                break
            }
            out += Self.escape(rest[..<range.lowerBound])
            out += inMatch ? "</mark>" : "<mark>"
            inMatch.toggle()
            rest = rest[range.upperBound...]
        }
        if inMatch { out += "</mark>" }
        return out
    }

    static func escape(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
