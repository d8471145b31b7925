/// The filters on sequences: selecting, mapping, sorting, aggregating.
enum JinjaSequenceFilters {
    /// `value | name(arguments)` for the sequence filters (those ``JinjaFilters`` does not handle itself).
    static func apply(_ name: String, to value: JinjaValue, _ arguments: JinjaArguments) throws(JinjaError)
        -> JinjaValue
    {
        switch name {
        case "selectattr", "rejectattr", "select", "reject":
            let byAttribute = name.hasSuffix("attr")
            let keeps = name.hasPrefix("select")
            var positional = arguments.positional
            let attribute: JinjaValue = byAttribute ? (positional.isEmpty ? .none : positional.removeFirst()) : .none
            var kept: [JinjaValue] = []
            for item in try value.iterated() {
                let subject = byAttribute ? try JinjaFilters.attributeValue(item, attribute) : item
                let passes: Bool
                if positional.isEmpty {
                    passes = subject.isTruthy
                } else {
                    let test = positional[0].text.string
                    guard JinjaTests.names.contains(test) else { throw JinjaError(.unsupported, "the test '\(test)'") }
                    passes = try JinjaTests.apply(test, to: subject, Array(positional.dropFirst()))
                }
                if passes == keeps { kept.append(item) }
            }
            return .list(kept)
        case "map":
            var result: [JinjaValue] = []
            if let attribute = arguments.keywords.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = arguments.keywords.first { $0.0 == "default" }?.1
                for item in try value.iterated() {
                    let mapped = try JinjaFilters.attributeValue(item, attribute)
                    result.append(mapped.isUndefined ? fallback ?? mapped : mapped)
                }
                return .list(result)
            }
            guard let filterName = arguments.positional.first?.text.string else {
                throw JinjaError(.render, "map needs a filter name or attribute=")
            }
            guard JinjaFilters.names.contains(filterName) else {
                throw JinjaError(.unsupported, "the filter '\(filterName)'")
            }
            let rest = JinjaArguments(positional: Array(arguments.positional.dropFirst()), keywords: arguments.keywords)
            for item in try value.iterated() { result.append(try JinjaFilters.apply(filterName, to: item, rest)) }
            return .list(result)
        case "unique":
            let caseSensitive = arguments.value(0, "case_sensitive", default: .bool(false)).isTruthy
            let attribute = arguments.value(1, "attribute", default: .none)
            var seen: [JinjaValue] = []
            var result: [JinjaValue] = []
            for item in try value.iterated() {
                let key = sortKey(try JinjaFilters.attributeValue(item, attribute), caseSensitive: caseSensitive)
                if !seen.contains(where: { $0.equals(key) }) {
                    seen.append(key)
                    result.append(item)
                }
            }
            return .list(result)
        case "sort":
            let reverse = arguments.value(0, "reverse", default: .bool(false)).isTruthy
            let caseSensitive = arguments.value(1, "case_sensitive", default: .bool(false)).isTruthy
            let attribute = arguments.value(2, "attribute", default: .none)
            var keyed: [(key: JinjaValue, item: JinjaValue)] = []
            for item in try value.iterated() {
                keyed.append(
                    (sortKey(try JinjaFilters.attributeValue(item, attribute), caseSensitive: caseSensitive), item))
            }
            return .list(try stableSorted(keyed, reverse: reverse).map(\.item))
        case "dictsort":
            guard case .dict(let dictionary) = value else {
                throw JinjaError(.render, "you can only sort by either 'key' or 'value'")
            }
            let caseSensitive = arguments.value(0, "case_sensitive", default: .bool(false)).isTruthy
            let byValue = arguments.value(1, "by", default: .template("key")).text.string == "value"
            let reverse = arguments.value(2, "reverse", default: .bool(false)).isTruthy
            let keyed = dictionary.items.map { pair in
                (
                    key: sortKey(byValue ? pair.value : .string(pair.key), caseSensitive: caseSensitive),
                    item: JinjaValue.tuple([.string(pair.key), pair.value])
                )
            }
            return .list(try stableSorted(keyed, reverse: reverse).map(\.item))
        case "min", "max":
            let caseSensitive = arguments.value(0, "case_sensitive", default: .bool(false)).isTruthy
            let attribute = arguments.value(1, "attribute", default: .none)
            var keyed: [(key: JinjaValue, item: JinjaValue)] = []
            for item in try value.iterated() {
                keyed.append(
                    (sortKey(try JinjaFilters.attributeValue(item, attribute), caseSensitive: caseSensitive), item))
            }
            let sorted = try stableSorted(keyed, reverse: false)
            return (name == "min" ? sorted.first : sorted.last)?.item ?? .undefined("no \(name) of an empty sequence")
        default:
            // sum(attribute=None, start=0)
            let attribute = arguments.value(0, "attribute", default: .none)
            var total = arguments.value(1, "start", default: .int(0))
            for item in try value.iterated() {
                total = try JinjaOperators.apply(.add, total, try JinjaFilters.attributeValue(item, attribute))
            }
            return total
        }
    }

    /// Strings lowered unless `caseSensitive`, as jinja2's sorting filters compare them.
    private static func sortKey(_ value: JinjaValue, caseSensitive: Bool) -> JinjaValue {
        if !caseSensitive, case .string(let text) = value { return .template(text.string.lowercased()) }
        return value
    }

    /// A stable sort by key (Python's `sorted`), failing where Python cannot compare two keys.
    private static func stableSorted(_ items: [(key: JinjaValue, item: JinjaValue)], reverse: Bool) throws(JinjaError)
        -> [(key: JinjaValue, item: JinjaValue)]
    {
        var failure: JinjaError?
        let indexed = items.enumerated().map { ($0.offset, $0.element) }
        let sorted = indexed.sorted { a, b in
            let (x, y) = reverse ? (b.1.key, a.1.key) : (a.1.key, b.1.key)
            guard let less = x.isLess(than: y) else {
                failure = JinjaError(.render, "'<' not supported between '\(x.typeName)' and '\(y.typeName)'")
                return false
            }
            if less { return true }
            if y.isLess(than: x) == true { return false }
            return a.0 < b.0
        }
        if let failure { throw failure }
        return sorted.map(\.1)
    }
}
