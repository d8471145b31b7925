/// String operations templates apply to message contents, with Python's exact semantics (jinja2
/// runs on Python strings).
extension Unicode.Scalar {
    /// Python's `str.isspace()`: Unicode White_Space plus the separators U+001C–U+001F.
    var isPythonWhitespace: Bool {
        properties.isWhitespace || (0x1C...0x1F).contains(value)
    }
}

extension String {
    /// jinja2's `| trim`: Python's `str.strip()`, whitespace removed from both ends by code point.
    var jinjaTrimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.isPythonWhitespace }),
            let last = scalars.lastIndex(where: { !$0.isPythonWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }

    /// transformers' `| tojson` of a string: `json.dumps(value, ensure_ascii=False)`.
    var jsonQuoted: String {
        var out = "\""
        for c in unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}
