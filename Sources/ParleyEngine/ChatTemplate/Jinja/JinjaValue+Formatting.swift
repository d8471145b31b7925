/// How values become text: Python's `str()` (what `{{ }}` prints), `repr()` (items inside a
/// printed list or dict) and `json.dumps` (transformers' `tojson`).
extension JinjaValue {
    /// Python's `str(value)`, as jinja2 prints it; data if any string inside is.
    var text: JinjaText {
        if case .string(let text) = self { return text }
        if case .undefined = self { return JinjaText() }
        return JinjaText(pythonString, isData: containsData)
    }

    /// Whether any string inside came from the chat's data.
    var containsData: Bool {
        switch self {
        case .string(let text): text.containsData
        case .list(let items), .tuple(let items): items.contains(where: \.containsData)
        case .dict(let dictionary): dictionary.items.contains { $0.key.containsData || $0.value.containsData }
        case .namespace(let namespace): JinjaValue.dict(namespace.attributes).containsData
        default: false
        }
    }

    /// Python's `str()`.
    var pythonString: String {
        switch self {
        case .string(let text): text.string
        case .undefined: ""
        default: pythonRepr
        }
    }

    /// Python's `repr()`.
    var pythonRepr: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case .bool(let value): value ? "True" : "False"
        case .int(let value): String(value)
        case .double(let value): Self.pythonFloat(value)
        case .string(let text): Self.quoted(text.string)
        case .list(let items): "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let items):
            items.count == 1
                ? "(" + items[0].pythonRepr + ",)" : "(" + items.map(\.pythonRepr).joined(separator: ", ") + ")"
        case .dict(let dictionary):
            "{"
                + dictionary.items.map { Self.quoted($0.key.string) + ": " + $0.value.pythonRepr }.joined(
                    separator: ", ")
                + "}"
        case .namespace(let namespace): "<Namespace " + JinjaValue.dict(namespace.attributes).pythonRepr + ">"
        case .function(let function): "<function \(function.name)>"
        }
    }

    /// Python's `repr(float)`: the shortest text that reads back, with `.0` on whole numbers.
    static func pythonFloat(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return value.description
    }

    /// Python's `repr(str)`: single quotes unless the text has one and no double quote.
    static func quoted(_ text: String) -> String {
        let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case quote: out += "\\" + String(quote)
            case _ where !c.isPythonPrintable:
                let hex = String(c.value, radix: 16)
                let width = c.value < 0x100 ? 2 : c.value < 0x10000 ? 4 : 8
                out +=
                    (width == 2 ? "\\x" : width == 4 ? "\\u" : "\\U")
                    + String(repeating: "0", count: width - hex.count) + hex
            default: out.unicodeScalars.append(c)
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    /// `json.dumps(value, ensure_ascii=False, indent=…, separators=…, sort_keys=…)`.
    func json(indent: String?, itemSeparator: String, keySeparator: String, sortKeys: Bool, level: Int = 0)
        throws(JinjaError) -> String
    {
        func items(_ parts: [String], _ open: String, _ close: String) -> String {
            guard !parts.isEmpty else { return open + close }
            guard let indent else { return open + parts.joined(separator: itemSeparator) + close }
            let inner = "\n" + String(repeating: indent, count: level + 1)
            let outer = "\n" + String(repeating: indent, count: level)
            return open + inner + parts.joined(separator: itemSeparator + inner) + outer + close
        }
        switch self {
        case .none: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .double(let value):
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
            return value.description
        case .string(let text): return text.string.jsonQuoted
        case .list(let values), .tuple(let values):
            var parts: [String] = []
            for value in values {
                parts.append(
                    try value.json(
                        indent: indent, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys,
                        level: level + 1))
            }
            return items(parts, "[", "]")
        case .dict(let dictionary):
            var pairs = dictionary.items
            if sortKeys {
                pairs.sort { $0.key.string.unicodeScalars.lexicographicallyPrecedes($1.key.string.unicodeScalars) }
            }
            var parts: [String] = []
            for (key, value) in pairs {
                parts.append(
                    key.string.jsonQuoted + keySeparator
                        + (try value.json(
                            indent: indent, itemSeparator: itemSeparator, keySeparator: keySeparator,
                            sortKeys: sortKeys, level: level + 1)))
            }
            return items(parts, "{", "}")
        case .undefined, .namespace, .function:
            throw JinjaError(.render, "Object of type \(typeName) is not JSON serializable")
        }
    }
}

extension Unicode.Scalar {
    /// Python's `str.isprintable()` for one character: not a control, format, surrogate,
    /// private-use, unassigned or separator character other than the space.
    var isPythonPrintable: Bool {
        if self == " " { return true }
        switch properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
