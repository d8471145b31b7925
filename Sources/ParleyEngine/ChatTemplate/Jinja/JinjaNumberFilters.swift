import Foundation

/// The filters on numbers: `int`, `float`, `abs`, `round`.
enum JinjaNumberFilters {
    /// `value | name(arguments)` for the number filters.
    static func apply(_ name: String, to value: JinjaValue, _ arguments: JinjaArguments) throws(JinjaError)
        -> JinjaValue
    {
        switch name {
        case "int":
            let fallback = arguments.value(0, "default", default: .int(0))
            switch value {
            case .int, .bool: return .int(value.integer!)
            case .double(let number): return Int(exactly: number.rounded(.towardZero)).map { .int($0) } ?? fallback
            case .string(let text):
                let trimmed = text.string.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
                if let integer = Int(trimmed) { return .int(integer) }
                if let number = Double(trimmed), let integer = Int(exactly: number.rounded(.towardZero)) {
                    return .int(integer)
                }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = arguments.value(0, "default", default: .double(0))
            switch value {
            case .int, .bool, .double: return .double(value.number!)
            case .string(let text):
                return Double(text.string.trimmingCharacters(in: .whitespaces)).map { .double($0) } ?? fallback
            default: return fallback
            }
        case "abs":
            switch value {
            case .int(let number):
                guard number != .min else { throw JinjaError(.render, "abs() of \(number) overflows") }
                return .int(abs(number))
            case .bool(let flag): return .int(flag ? 1 : 0)
            case .double(let number): return .double(abs(number))
            default: throw JinjaError(.render, "bad operand type for abs(): '\(value.typeName)'")
            }
        default:
            // round(precision=0, method='common'): a float, Python's rounding for common.
            guard let number = value.number else {
                throw JinjaError(.render, "type \(value.typeName) doesn't define __round__ method")
            }
            let precision = arguments.value(0, "precision", default: .int(0)).integer ?? 0
            let method = arguments.value(1, "method", default: .template("common")).text.string
            if case .int = value, method == "common" { return .int(value.integer!) }
            let scale = pow(10, Double(precision))
            let rule: FloatingPointRoundingRule =
                switch method {
                case "ceil": .up
                case "floor": .down
                default: .toNearestOrEven
                }
            return .double((number * scale).rounded(rule) / scale)
        }
    }
}
