/// jinja2's filters (`x | name(arguments)`) that chat templates use, with transformers' `tojson`.
enum JinjaFilters {
    /// The filters this interpreter implements; a template naming another is refused when parsed.
    static let names: Set<String> = [
        "trim", "tojson", "length", "count", "first", "last", "join", "upper", "lower", "title", "capitalize",
        "replace", "default", "d", "string", "int", "float", "list", "items", "dictsort", "selectattr", "rejectattr",
        "select", "reject", "map", "unique", "reverse", "sort", "abs", "round", "indent", "safe", "e", "escape",
        "min", "max", "sum", "wordcount",
    ]

    /// `value | name(arguments)`; `name` is one of ``names``.
    static func apply(_ name: String, to value: JinjaValue, _ arguments: JinjaArguments) throws(JinjaError)
        -> JinjaValue
    {
        let filter = "the filter '\(name)'"
        switch name {
        case "default", "d":
            try arguments.check(filter, positional: 2, keywords: ["default_value", "boolean"])
            let fallback = arguments.value(0, "default_value", default: .template(""))
            let boolean = arguments.value(1, "boolean", default: .bool(false)).isTruthy
            return value.isUndefined || (boolean && !value.isTruthy) ? fallback : value
        case "safe":
            return value
        case "string":
            return .string(value.text)
        case "trim":
            try arguments.check(filter, positional: 1, keywords: ["chars"])
            let characters = try JinjaMethods.optionalString(arguments.value(0, "chars", default: .none), filter)
            return .string(value.text.stripped(characters, leading: true, trailing: true))
        case "upper", "lower", "capitalize":
            return .string(value.text.derived(value.text.string.pythonCase(name)))
        case "title":
            return .string(value.text.derived(titled(value.text.string)))
        case "replace":
            try arguments.check(filter, positional: 3, keywords: ["old", "new", "count"])
            let text = value.text
            let old = arguments.value(0, "old", default: .none).text
            let new = arguments.value(1, "new", default: .none).text
            let count = arguments.value(2, "count", default: .int(-1)).integer ?? -1
            return .string(
                text.derived(text.string.pythonReplacing(old.string, with: new.string, count: count), from: [new]))
        case "escape", "e":
            return .string(value.text.derived(escaped(value.text.string)))
        case "indent":
            return try indent(value, arguments)
        case "wordcount":
            return .int(try value.text.split(nil, maxSplit: -1, fromEnd: false).count)
        case "tojson":
            return try toJSON(value, arguments)
        case "length", "count":
            switch value {
            case .undefined: return .int(0)
            case .string(let text): return .int(text.scalars.count)
            case .list(let items), .tuple(let items): return .int(items.count)
            case .dict(let dictionary): return .int(dictionary.count)
            default: throw JinjaError(.render, "object of type '\(value.typeName)' has no len()")
            }
        case "first":
            return try value.iterated().first ?? .undefined("the sequence is empty")
        case "last":
            return try value.iterated().last ?? .undefined("the sequence is empty")
        case "list":
            return .list(try value.iterated())
        case "reverse":
            if case .string(let text) = value { return .string(text.picking(Array(text.scalars.indices.reversed()))) }
            return .list(try value.iterated().reversed())
        case "join":
            try arguments.check(filter, positional: 2, keywords: ["d", "attribute"])
            let separator = arguments.value(0, "d", default: .template("")).text
            let attribute = arguments.value(1, "attribute", default: .none)
            var out = JinjaText()
            for (index, item) in try value.iterated().enumerated() {
                if index > 0 { out.append(separator) }
                out.append(try attributeValue(item, attribute).text)
            }
            return .string(out)
        case "items":
            switch value {
            case .undefined: return .list([])
            case .dict(let dictionary): return .list(dictionary.items.map { .tuple([.string($0.key), $0.value]) })
            default: throw JinjaError(.render, "can only get item pairs from a mapping")
            }
        case "int", "float", "abs", "round":
            return try JinjaNumberFilters.apply(name, to: value, arguments)
        default:
            return try JinjaSequenceFilters.apply(name, to: value, arguments)
        }
    }

    /// `item.attribute` for filters taking `attribute=` (dotted paths and integers allowed); the item
    /// itself for none.
    static func attributeValue(_ item: JinjaValue, _ attribute: JinjaValue) throws(JinjaError) -> JinjaValue {
        switch attribute {
        case .none, .undefined: return item
        case .int: return try JinjaAccess.item(item, attribute)
        default:
            var value = item
            for part in attribute.text.string.split(separator: ".", omittingEmptySubsequences: false) {
                value = try JinjaAccess.item(value, Int(part).map { .int($0) } ?? .template(String(part)))
            }
            return value
        }
    }

    /// jinja2's `title`: each word (after `-`, whitespace or an opening bracket) capitalized.
    private static func titled(_ text: String) -> String {
        var out = ""
        var atWordStart = true
        for c in text.unicodeScalars {
            let separator = c.isPythonWhitespace || ["-", "(", "{", "[", "<"].contains(c)
            out += separator ? String(c) : atWordStart ? String(c).uppercased() : String(c).lowercased()
            atWordStart = separator
        }
        return out
    }

    private static func escaped(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `indent(width=4, first=False, blank=False)`: lines after the first (empty ones only with
    /// `blank`) prefixed.
    private static func indent(_ value: JinjaValue, _ arguments: JinjaArguments) throws(JinjaError) -> JinjaValue {
        try arguments.check("the filter 'indent'", positional: 3, keywords: ["width", "first", "blank"])
        let width = arguments.value(0, "width", default: .int(4))
        let prefix = width.integer.map { String(repeating: " ", count: max($0, 0)) } ?? width.text.string
        let first = arguments.value(1, "first", default: .bool(false)).isTruthy
        let blank = arguments.value(2, "blank", default: .bool(false)).isTruthy
        // jinja2 splits `text + "\n"` into lines; empty lines stay unindented unless `blank`.
        let lines = (value.text + JinjaText("\n", isData: false)).splitLines().map(\.string)
        var out = lines.first ?? ""
        for line in lines.dropFirst() { out += "\n" + (blank || !line.isEmpty ? prefix + line : line) }
        if first { out = prefix + out }
        return .string(value.text.derived(out))
    }

    /// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=, separators=, sort_keys=)`.
    private static func toJSON(_ value: JinjaValue, _ arguments: JinjaArguments) throws(JinjaError) -> JinjaValue {
        try arguments.check(
            "the filter 'tojson'", positional: 4, keywords: ["ensure_ascii", "indent", "separators", "sort_keys"])
        if arguments.value(0, "ensure_ascii", default: .bool(false)).isTruthy {
            throw JinjaError(.unsupported, "tojson with ensure_ascii")
        }
        let indentValue = arguments.value(1, "indent", default: .none)
        let indent: String? =
            switch indentValue {
            case .none, .undefined: nil
            case .int(let count): String(repeating: " ", count: max(count, 0))
            default: indentValue.text.string
            }
        var itemSeparator = indent == nil ? ", " : ","
        var keySeparator = ": "
        switch arguments.value(2, "separators", default: .none) {
        case .list(let pair), .tuple(let pair):
            guard pair.count == 2 else { throw JinjaError(.render, "separators must be a pair") }
            (itemSeparator, keySeparator) = (pair[0].text.string, pair[1].text.string)
        default: break
        }
        let sortKeys = arguments.value(3, "sort_keys", default: .bool(false)).isTruthy
        let json = try value.json(
            indent: indent, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys)
        return .string(JinjaText(json, isData: value.containsData))
    }
}
