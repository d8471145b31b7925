/// The Python methods templates call on strings (`strip`, `split`, `startswith`, …) and dicts
/// (`items`, `get`, …); each keeps the provenance rules of ``JinjaText``.
enum JinjaMethods {
    /// The bound method `name` of `value`, if its type has one this interpreter implements.
    static func method(_ name: String, of value: JinjaValue) -> JinjaFunction? {
        switch value {
        case .string(let text): stringMethod(name, text)
        case .dict(let dictionary): dictionaryMethod(name, dictionary)
        case .list(let items), .tuple(let items): listMethod(name, items)
        default: nil
        }
    }

    private static func bound(_ name: String, _ body: @escaping (JinjaArguments) throws(JinjaError) -> JinjaValue)
        -> JinjaFunction
    {
        JinjaFunction(name: name, call: body)
    }

    /// A string argument, or `nil` for none/absent.
    static func optionalString(_ value: JinjaValue, _ function: String) throws(JinjaError) -> JinjaText? {
        switch value {
        case .string(let text): return text
        case .none, .undefined: return nil
        default: throw JinjaError(.render, "\(function) arg must be None or str, not \(value.typeName)")
        }
    }

    private static func stringMethod(_ name: String, _ text: JinjaText) -> JinjaFunction? {
        let function = "str.\(name)"
        switch name {
        case "strip", "lstrip", "rstrip":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 1)
                let characters = try optionalString(arguments.value(0, "chars", default: .none), function)
                return .string(text.stripped(characters, leading: name != "rstrip", trailing: name != "lstrip"))
            }
        case "split", "rsplit":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 2, keywords: ["sep", "maxsplit"])
                let separator = try optionalString(arguments.value(0, "sep", default: .none), function)
                guard let maxSplit = arguments.value(1, "maxsplit", default: .int(-1)).integer else {
                    throw JinjaError(.render, "maxsplit must be an integer")
                }
                let parts = try text.split(separator, maxSplit: maxSplit, fromEnd: name == "rsplit")
                return .list(parts.map { .string($0) })
            }
        case "startswith", "endswith":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 1)
                let candidates: [JinjaValue]
                switch arguments.value(0, "prefix", default: .none) {
                case .tuple(let items): candidates = items
                case let other: candidates = [other]
                }
                let scalars = text.scalars
                for candidate in candidates {
                    guard case .string(let affix) = candidate else {
                        throw JinjaError(.render, "\(function) first arg must be str or a tuple of str")
                    }
                    let affixScalars = affix.scalars
                    if name == "startswith"
                        ? scalars.starts(with: affixScalars)
                        : scalars.reversed().starts(with: affixScalars.reversed())
                    {
                        return .bool(true)
                    }
                }
                return .bool(false)
            }
        case "upper", "lower", "title", "capitalize":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 0)
                return .string(text.derived(text.string.pythonCase(name)))
            }
        case "replace":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 3)
                guard case .string(let old) = arguments.value(0, "old", default: .none),
                    case .string(let new) = arguments.value(1, "new", default: .none),
                    let count = arguments.value(2, "count", default: .int(-1)).integer
                else { throw JinjaError(.render, "\(function) takes two strings and an optional count") }
                return .string(
                    text.derived(text.string.pythonReplacing(old.string, with: new.string, count: count), from: [new]))
            }
        case "find", "rfind", "index", "rindex", "count":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 1)
                guard case .string(let needle) = arguments.value(0, "sub", default: .none) else {
                    throw JinjaError(.render, "\(function) takes a string")
                }
                let positions = text.scalars.positions(of: needle.scalars)
                if name == "count" { return .int(positions.count) }
                guard let position = name.hasPrefix("r") ? positions.last : positions.first else {
                    if name.hasSuffix("index") { throw JinjaError(.render, "substring not found") }
                    return .int(-1)
                }
                return .int(position)
            }
        case "join":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 1)
                var out = JinjaText()
                for (index, item) in try arguments.value(0, "iterable", default: .none).iterated().enumerated() {
                    guard case .string(let part) = item else {
                        throw JinjaError(
                            .render, "sequence item \(index): expected str instance, \(item.typeName) found")
                    }
                    if index > 0 { out.append(text) }
                    out.append(part)
                }
                return .string(out)
            }
        case "isdigit", "isalpha", "isspace", "isupper", "islower":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 0)
                return .bool(text.string.pythonPredicate(name))
            }
        case "splitlines":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 0)
                return .list(text.splitLines().map { .string($0) })
            }
        default:
            return nil
        }
    }

    private static func dictionaryMethod(_ name: String, _ dictionary: JinjaDictionary) -> JinjaFunction? {
        let function = "dict.\(name)"
        switch name {
        case "items":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 0)
                return .list(dictionary.items.map { .tuple([.string($0.key), $0.value]) })
            }
        case "keys":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 0)
                return .list(dictionary.keys.map { .string($0) })
            }
        case "values":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 0)
                return .list(dictionary.items.map(\.value))
            }
        case "get":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 2)
                let fallback = arguments.value(1, "default", default: .none)
                guard case .string(let key) = arguments.value(0, "key", default: .none) else { return fallback }
                return dictionary[key] ?? fallback
            }
        default:
            return nil
        }
    }

    private static func listMethod(_ name: String, _ items: [JinjaValue]) -> JinjaFunction? {
        let function = "list.\(name)"
        switch name {
        case "index", "count":
            return bound(function) { arguments throws(JinjaError) in
                try arguments.check(function, positional: 1)
                let item = arguments.value(0, "value", default: .none)
                let matches = items.indices.filter { items[$0].equals(item) }
                if name == "count" { return .int(matches.count) }
                guard let first = matches.first else { throw JinjaError(.render, "\(item.pythonRepr) is not in list") }
                return .int(first)
            }
        default:
            return nil
        }
    }
}
