/// Expression evaluation with Python's operators.
extension JinjaRenderer {
    /// The value of `expression` with the variables of `scope`.
    static func evaluate(_ expression: JinjaExpression, in scope: JinjaScope) throws(JinjaError) -> JinjaValue {
        switch expression {
        case .literal(let literal):
            switch literal {
            case .none: return .none
            case .bool(let value): return .bool(value)
            case .int(let value): return .int(value)
            case .double(let value): return .double(value)
            case .string(let value): return .template(value)
            }
        case .name(let name):
            return scope.lookup(name) ?? .undefined("'\(name)' is undefined")
        case .list(let items):
            return .list(try evaluateAll(items, in: scope))
        case .tuple(let items):
            return .tuple(try evaluateAll(items, in: scope))
        case .dict(let pairs):
            var dictionary = JinjaDictionary()
            for (keyExpression, valueExpression) in pairs {
                guard case .string(let key) = try evaluate(keyExpression, in: scope) else {
                    throw JinjaError(.unsupported, "dict keys other than strings")
                }
                dictionary.set(key, try evaluate(valueExpression, in: scope))
            }
            return .dict(dictionary)
        case .attribute(let base, let name):
            return try JinjaAccess.attribute(try evaluate(base, in: scope), name)
        case .item(let base, let key):
            return try JinjaAccess.item(try evaluate(base, in: scope), try evaluate(key, in: scope))
        case .slice(let base, let start, let stop, let step):
            func bound(_ expression: JinjaExpression?) throws(JinjaError) -> Int? {
                guard let expression else { return nil }
                let value = try evaluate(expression, in: scope)
                if case .none = value { return nil }
                guard let integer = value.integer else { throw JinjaError(.render, "slice indices must be integers") }
                return integer
            }
            return try JinjaAccess.slice(
                try evaluate(base, in: scope), start: try bound(start), stop: try bound(stop), step: try bound(step))
        case .call(let callee, let arguments):
            let function = try evaluate(callee, in: scope)
            let evaluated = try evaluateArguments(arguments, in: scope)
            switch function {
            case .function(let function): return try function.call(evaluated)
            case .undefined(let why): throw JinjaError(.render, why)
            default: throw JinjaError(.render, "'\(function.typeName)' object is not callable")
            }
        case .filter(let base, let name, let arguments):
            return try JinjaFilters.apply(
                name, to: try evaluate(base, in: scope), try evaluateArguments(arguments, in: scope))
        case .test(let base, let name, let arguments, let negated):
            let evaluated = try evaluateArguments(arguments, in: scope)
            let result = try JinjaTests.apply(name, to: try evaluate(base, in: scope), evaluated.positional)
            return .bool(result != negated)
        case .not(let operand):
            return .bool(!(try evaluate(operand, in: scope).isTruthy))
        case .negate(let operand):
            switch try evaluate(operand, in: scope) {
            case .int(let value): return .int(-value)
            case .bool(let value): return .int(value ? -1 : 0)
            case .double(let value): return .double(-value)
            case let other: throw JinjaError(.render, "bad operand type for unary -: '\(other.typeName)'")
            }
        case .plus(let operand):
            let value = try evaluate(operand, in: scope)
            guard value.number != nil else {
                throw JinjaError(.render, "bad operand type for unary +: '\(value.typeName)'")
            }
            return value
        case .binary(.and, let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? try evaluate(right, in: scope) : value
        case .binary(.or, let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? value : try evaluate(right, in: scope)
        case .binary(let op, let left, let right):
            return try JinjaOperators.apply(op, try evaluate(left, in: scope), try evaluate(right, in: scope))
        case .compare(let first, let rest):
            var left = try evaluate(first, in: scope)
            for (op, rightExpression) in rest {
                let right = try evaluate(rightExpression, in: scope)
                guard try JinjaOperators.compare(op, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let value, let condition, let otherwise):
            if try evaluate(condition, in: scope).isTruthy { return try evaluate(value, in: scope) }
            guard let otherwise else { return .undefined("the conditional expression has no else") }
            return try evaluate(otherwise, in: scope)
        }
    }

    /// The values of `expressions`, in order.
    static func evaluateAll(_ expressions: [JinjaExpression], in scope: JinjaScope) throws(JinjaError) -> [JinjaValue] {
        var values: [JinjaValue] = []
        for expression in expressions { values.append(try evaluate(expression, in: scope)) }
        return values
    }

    /// Call arguments evaluated, positional and keyword apart.
    static func evaluateArguments(_ arguments: [JinjaArgument], in scope: JinjaScope) throws(JinjaError)
        -> JinjaArguments
    {
        var positional: [JinjaValue] = []
        var keywords: [(String, JinjaValue)] = []
        for argument in arguments {
            let value = try evaluate(argument.value, in: scope)
            if let name = argument.name { keywords.append((name, value)) } else { positional.append(value) }
        }
        return JinjaArguments(positional: positional, keywords: keywords)
    }
}

/// Evaluated call arguments.
struct JinjaArguments {
    /// The positional arguments, in order.
    var positional: [JinjaValue]
    /// The keyword arguments, in order.
    var keywords: [(String, JinjaValue)]

    /// The argument at `index` or named `name`, else `defaultValue`.
    func value(_ index: Int, _ name: String, default defaultValue: JinjaValue) -> JinjaValue {
        if let keyword = keywords.first(where: { $0.0 == name }) { return keyword.1 }
        return index < positional.count ? positional[index] : defaultValue
    }

    /// Fails unless at most `count` positional arguments and only keywords in `names` were given.
    func check(_ function: String, positional count: Int, keywords names: Set<String> = []) throws(JinjaError) {
        if positional.count > count { throw JinjaError(.render, "\(function) got too many arguments") }
        if let unknown = keywords.first(where: { !names.contains($0.0) }) {
            throw JinjaError(.unsupported, "\(function) with the argument '\(unknown.0)'")
        }
    }
}
