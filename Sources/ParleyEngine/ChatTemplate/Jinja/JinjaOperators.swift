import Foundation

/// Python's binary operators and comparisons on ``JinjaValue``s.
enum JinjaOperators {
    /// `left op right` for the arithmetic operators and `~` (`and`/`or` short-circuit in the renderer).
    static func apply(_ op: JinjaBinaryOperator, _ left: JinjaValue, _ right: JinjaValue) throws(JinjaError)
        -> JinjaValue
    {
        if case .undefined(let why) = left, op != .concatenate { throw JinjaError(.render, why) }
        if case .undefined(let why) = right, op != .concatenate { throw JinjaError(.render, why) }
        switch (op, left, right) {
        case (.concatenate, _, _):
            return .string(left.text + right.text)
        case (.add, .string(let a), .string(let b)):
            return .string(a + b)
        case (.add, .list(let a), .list(let b)):
            return .list(a + b)
        case (.add, .tuple(let a), .tuple(let b)):
            return .tuple(a + b)
        case (.multiply, .string(let text), _), (.multiply, _, .string(let text)):
            guard let count = (left.integer ?? right.integer) else { break }
            try checkSize(count, text.scalars.count)
            return .string(text.derived(String(repeating: text.string, count: max(count, 0))))
        case (.multiply, .list(let items), _), (.multiply, _, .list(let items)):
            guard let count = (left.integer ?? right.integer) else { break }
            try checkSize(count, items.count)
            return .list(Array([[JinjaValue]](repeating: items, count: max(count, 0)).joined()))
        default:
            break
        }
        if let a = left.integer, let b = right.integer {
            return try integerArithmetic(op, a, b)
        }
        if let a = left.number, let b = right.number {
            return try floatArithmetic(op, a, b)
        }
        throw JinjaError(
            .render, "unsupported operand type(s) for \(op.rawValue): '\(left.typeName)' and '\(right.typeName)'")
    }

    /// The most items a repeated string or list may have (Python's limit is memory; a template
    /// that needs more is broken, and must not take the server down).
    static let maximumSize = 10_000_000

    private static func checkSize(_ count: Int, _ length: Int) throws(JinjaError) {
        let (total, overflow) = max(count, 0).multipliedReportingOverflow(by: length)
        guard !overflow, total <= maximumSize else { throw JinjaError(.render, "a repeated sequence too long") }
    }

    private static func integerArithmetic(_ op: JinjaBinaryOperator, _ a: Int, _ b: Int) throws(JinjaError)
        -> JinjaValue
    {
        func checked(_ result: (partialValue: Int, overflow: Bool)) throws(JinjaError) -> JinjaValue {
            guard !result.overflow else { throw JinjaError(.unsupported, "integers beyond 64 bits") }
            return .int(result.partialValue)
        }
        switch op {
        case .add: return try checked(a.addingReportingOverflow(b))
        case .subtract: return try checked(a.subtractingReportingOverflow(b))
        case .multiply: return try checked(a.multipliedReportingOverflow(by: b))
        case .divide: return try floatArithmetic(.divide, Double(a), Double(b))
        case .floorDivide, .modulo:
            guard b != 0 else { throw JinjaError(.render, "integer division or modulo by zero") }
            let (quotientOrNil, overflow) = a.dividedReportingOverflow(by: b)
            guard !overflow else { throw JinjaError(.render, "integer division of \(a) by \(b) overflows") }
            var quotient = quotientOrNil
            var remainder = a.remainderReportingOverflow(dividingBy: b).partialValue
            if remainder != 0, (remainder < 0) != (b < 0) {
                quotient -= 1
                remainder += b
            }
            return .int(op == .floorDivide ? quotient : remainder)
        case .power:
            guard b >= 0 else { return try floatArithmetic(.power, Double(a), Double(b)) }
            // Exponentiation by squaring, failing past 64 bits.
            var (result, base, exponent) = (1, a, b)
            while exponent > 0 {
                if exponent & 1 == 1 { result = try checked(result.multipliedReportingOverflow(by: base)).integer! }
                exponent >>= 1
                if exponent > 0 { base = try checked(base.multipliedReportingOverflow(by: base)).integer! }
            }
            return .int(result)
        case .concatenate, .and, .or:
            throw JinjaError(.render, "not an arithmetic operator: \(op.rawValue)")
        }
    }

    private static func floatArithmetic(_ op: JinjaBinaryOperator, _ a: Double, _ b: Double) throws(JinjaError)
        -> JinjaValue
    {
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw JinjaError(.render, "division by zero") }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw JinjaError(.render, "float floor division by zero") }
            return .double((a / b).rounded(.down))
        case .modulo:
            guard b != 0 else { throw JinjaError(.render, "float modulo") }
            let remainder = a.truncatingRemainder(dividingBy: b)
            return .double(remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder)
        case .power:
            return .double(pow(a, b))
        case .concatenate, .and, .or:
            throw JinjaError(.render, "not an arithmetic operator: \(op.rawValue)")
        }
    }

    /// One comparison of a chain.
    static func compare(_ op: JinjaComparison, _ left: JinjaValue, _ right: JinjaValue) throws(JinjaError) -> Bool {
        switch op {
        case .equal: return left.equals(right)
        case .notEqual: return !left.equals(right)
        case .contains: return try contains(right, left)
        case .notContains: return !(try contains(right, left))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            if case .undefined(let why) = left { throw JinjaError(.render, why) }
            if case .undefined(let why) = right { throw JinjaError(.render, why) }
            let (a, b) = op == .less || op == .lessOrEqual ? (left, right) : (right, left)
            guard let less = a.isLess(than: b) else {
                throw JinjaError(
                    .render, "'\(op.rawValue)' not supported between '\(left.typeName)' and '\(right.typeName)'")
            }
            return op == .less || op == .greater ? less : (less || a.equals(b))
        }
    }

    /// Python's `item in container`.
    static func contains(_ container: JinjaValue, _ item: JinjaValue) throws(JinjaError) -> Bool {
        switch container {
        case .string(let text):
            guard case .string(let needle) = item else {
                throw JinjaError(.render, "'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return text.scalars.firstRange(of: needle.scalars) != nil || needle.isEmpty
        case .dict(let dictionary):
            guard case .string(let key) = item else { return false }
            return dictionary[key] != nil
        case .undefined, .list, .tuple:
            return try container.iterated().contains { $0.equals(item) }
        default:
            throw JinjaError(.render, "argument of type '\(container.typeName)' is not iterable")
        }
    }
}
