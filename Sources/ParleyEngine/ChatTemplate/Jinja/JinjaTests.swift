/// jinja2's tests (`x is name(arguments)`).
enum JinjaTests {
    /// The tests this interpreter implements; a template naming another is refused when parsed.
    static let names: Set<String> = [
        "defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
        "boolean", "true", "false", "odd", "even", "divisibleby", "equalto", "eq", "==", "ne", "!=", "lt", "<", "gt",
        ">", "le", "<=", "ge", ">=", "in", "lower", "upper", "callable", "sameas",
    ]

    /// `value is name(arguments)`; `name` is one of ``names``.
    static func apply(_ name: String, to value: JinjaValue, _ arguments: [JinjaValue]) throws(JinjaError) -> Bool {
        func argument() throws(JinjaError) -> JinjaValue {
            guard let first = arguments.first else { throw JinjaError(.render, "the test '\(name)' needs an argument") }
            return first
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true } else { return false }
        case "string": if case .string = value { return true } else { return false }
        case "number": return value.number != nil
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "mapping": if case .dict = value { return true } else { return false }
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "callable": if case .function = value { return true } else { return false }
        case "iterable":
            switch value {
            case .undefined, .string, .list, .tuple, .dict: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .undefined, .string, .list, .tuple, .dict: return true
            default: return false
            }
        case "odd", "even", "divisibleby":
            guard let number = value.integer else { throw JinjaError(.render, "the test '\(name)' needs an integer") }
            if name == "divisibleby" {
                guard let divisor = try argument().integer, divisor != 0 else {
                    throw JinjaError(.render, "divisibleby needs a non-zero integer")
                }
                return number % divisor == 0
            }
            return (abs(number) % 2 == 1) == (name == "odd")
        case "equalto", "eq", "==": return value.equals(try argument())
        case "ne", "!=": return !value.equals(try argument())
        case "sameas":
            let other = try argument()
            switch (value, other) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            default: return false
            }
        case "lt", "<": return try JinjaOperators.compare(.less, value, try argument())
        case "gt", ">": return try JinjaOperators.compare(.greater, value, try argument())
        case "le", "<=": return try JinjaOperators.compare(.lessOrEqual, value, try argument())
        case "ge", ">=": return try JinjaOperators.compare(.greaterOrEqual, value, try argument())
        case "in": return try JinjaOperators.contains(try argument(), value)
        case "lower", "upper":
            guard case .string(let text) = value else { return false }
            return text.string.pythonPredicate(name == "lower" ? "islower" : "isupper")
        default:
            throw JinjaError(.unsupported, "the test '\(name)'")
        }
    }
}
