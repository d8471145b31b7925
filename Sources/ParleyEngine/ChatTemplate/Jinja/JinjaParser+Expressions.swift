/// Expressions, with jinja2's precedence (lowest first): `x if c else y`, `or`, `and`, `not`,
/// comparisons and `in`, `+ -`, `~`, `* / // %`, `**` (left to right, as jinja2 parses it),
/// unary `- +`, then postfix `.name`, `[key]`, `(arguments)`, `| filter`, `is test`.
extension JinjaParser {
    /// An expression, or a tuple when commas separate several (`{{ a, b }}`, `set x = 1, 2`).
    mutating func parseTuple(withConditional: Bool = true) throws(JinjaError) -> JinjaExpression {
        let first = withConditional ? try parseExpression() : try parseOr()
        guard current == .symbol(",") else { return first }
        var items = [first]
        while skip(.symbol(",")) {
            if current == .close(.statement) || current == .close(.expression) || current == .symbol(")") { break }
            items.append(withConditional ? try parseExpression() : try parseOr())
        }
        return .tuple(items)
    }

    /// A full expression, conditional expressions included.
    mutating func parseExpression() throws(JinjaError) -> JinjaExpression {
        try nest()
        defer { unnest() }
        var value = try parseOr()
        while skip(.identifier("if")) {
            let condition = try parseOr()
            let otherwise = skip(.identifier("else")) ? try parseExpression() : nil
            value = .conditional(value: value, condition: condition, otherwise: otherwise)
        }
        return value
    }

    private mutating func parseOr() throws(JinjaError) -> JinjaExpression {
        var left = try parseAnd()
        while skip(.identifier("or")) { left = .binary(.or, left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws(JinjaError) -> JinjaExpression {
        var left = try parseNot()
        while skip(.identifier("and")) { left = .binary(.and, left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws(JinjaError) -> JinjaExpression {
        try nest()
        defer { unnest() }
        if skip(.identifier("not")) { return .not(try parseNot()) }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(JinjaError) -> JinjaExpression {
        let first = try parseSum()
        var rest: [(JinjaComparison, JinjaExpression)] = []
        while true {
            if case .symbol(let symbol) = current, let op = JinjaComparison(rawValue: symbol) {
                advance()
                rest.append((op, try parseSum()))
            } else if skip(.identifier("in")) {
                rest.append((.contains, try parseSum()))
            } else if current == .identifier("not"), peek() == .identifier("in") {
                position += 2
                rest.append((.notContains, try parseSum()))
            } else {
                break
            }
        }
        return rest.isEmpty ? first : .compare(first, rest)
    }

    private mutating func parseSum() throws(JinjaError) -> JinjaExpression {
        var left = try parseConcatenation()
        while true {
            if skip(.symbol("+")) {
                left = .binary(.add, left, try parseConcatenation())
            } else if skip(.symbol("-")) {
                left = .binary(.subtract, left, try parseConcatenation())
            } else {
                return left
            }
        }
    }

    private mutating func parseConcatenation() throws(JinjaError) -> JinjaExpression {
        var left = try parseProduct()
        while skip(.symbol("~")) { left = .binary(.concatenate, left, try parseProduct()) }
        return left
    }

    private mutating func parseProduct() throws(JinjaError) -> JinjaExpression {
        var left = try parsePower()
        while case .symbol(let symbol) = current, ["*", "/", "//", "%"].contains(symbol),
            let op = JinjaBinaryOperator(rawValue: symbol)
        {
            advance()
            left = .binary(op, left, try parsePower())
        }
        return left
    }

    private mutating func parsePower() throws(JinjaError) -> JinjaExpression {
        var left = try parseUnary(withFilters: true)
        while skip(.symbol("**")) { left = .binary(.power, left, try parseUnary(withFilters: true)) }
        return left
    }

    private mutating func parseUnary(withFilters: Bool) throws(JinjaError) -> JinjaExpression {
        try nest()
        defer { unnest() }
        var node: JinjaExpression
        if skip(.symbol("-")) {
            node = .negate(try parseUnary(withFilters: false))
        } else if skip(.symbol("+")) {
            node = .plus(try parseUnary(withFilters: false))
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        return withFilters ? try parseFiltersAndTests(node) : node
    }

    private mutating func parsePrimary() throws(JinjaError) -> JinjaExpression {
        guard let token = current else { throw JinjaError(.syntax, "unexpected end of the template") }
        advance()
        switch token {
        case .identifier(let name):
            switch name {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(name)
            }
        case .string(var value):
            // Adjacent string literals are one string, as in Python.
            while case .string(let next) = current {
                value += next
                advance()
            }
            return .literal(.string(value))
        case .number(let text):
            if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                guard let value = Double(text) else { throw JinjaError(.syntax, "invalid number \(text)") }
                return .literal(.double(value))
            }
            guard let value = Int(text) else { throw JinjaError(.syntax, "invalid number \(text)") }
            return .literal(.int(value))
        case .symbol("("):
            if skip(.symbol(")")) { return .tuple([]) }
            let inner = try parseTuple()
            try expect(.symbol(")"))
            return inner
        case .symbol("["):
            var items: [JinjaExpression] = []
            while !skip(.symbol("]")) {
                if !items.isEmpty { try expect(.symbol(",")) }
                if skip(.symbol("]")) { break }
                items.append(try parseExpression())
            }
            return .list(items)
        case .symbol("{"):
            var pairs: [(key: JinjaExpression, value: JinjaExpression)] = []
            while !skip(.symbol("}")) {
                if !pairs.isEmpty { try expect(.symbol(",")) }
                if skip(.symbol("}")) { break }
                let key = try parseExpression()
                try expect(.symbol(":"))
                pairs.append((key, try parseExpression()))
            }
            return .dict(pairs)
        default:
            throw JinjaError(.syntax, "unexpected \(Self.describe(token))")
        }
    }

    private mutating func parsePostfix(_ start: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var node = start
        while true {
            if skip(.symbol(".")) {
                if case .number(let index) = current, let value = Int(index) {
                    advance()
                    node = .item(node, .literal(.int(value)))
                } else {
                    node = .attribute(node, try expectName())
                }
            } else if skip(.symbol("[")) {
                node = try parseSubscript(node)
            } else if current == .symbol("(") {
                node = .call(node, try parseArguments())
            } else {
                return node
            }
        }
    }

    /// After `[`: a key or a slice, through `]`.
    private mutating func parseSubscript(_ node: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var parts: [JinjaExpression?] = [nil]
        if current != .symbol(":") { parts[0] = try parseExpression() }
        if skip(.symbol("]")) {
            guard let key = parts[0] else { throw JinjaError(.syntax, "empty subscript") }
            return .item(node, key)
        }
        while skip(.symbol(":")) {
            if current == .symbol(":") || current == .symbol("]") {
                parts.append(nil)
            } else {
                parts.append(try parseExpression())
            }
        }
        try expect(.symbol("]"))
        guard parts.count <= 3 else { throw JinjaError(.syntax, "a slice has at most three parts") }
        return .slice(node, start: parts[0], stop: parts[1], step: parts.count > 2 ? parts[2] : nil)
    }

    /// `(a, b, name=c)`.
    mutating func parseArguments() throws(JinjaError) -> [JinjaArgument] {
        try expect(.symbol("("))
        var arguments: [JinjaArgument] = []
        while !skip(.symbol(")")) {
            if !arguments.isEmpty { try expect(.symbol(",")) }
            if skip(.symbol(")")) { break }
            if current == .symbol("*") || current == .symbol("**") {
                throw JinjaError(.unsupported, "'*' and '**' arguments")
            }
            if case .identifier(let name) = current, peek() == .symbol("=") {
                position += 2
                arguments.append(JinjaArgument(name: name, value: try parseExpression()))
            } else {
                if arguments.contains(where: { $0.name != nil }) {
                    throw JinjaError(.syntax, "a positional argument follows a keyword argument")
                }
                arguments.append(JinjaArgument(name: nil, value: try parseExpression()))
            }
        }
        return arguments
    }

    private mutating func parseFiltersAndTests(_ start: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        var node = start
        while true {
            if skip(.symbol("|")) {
                let (name, arguments) = try parseFilterNameAndArguments()
                node = .filter(node, name: name, arguments)
            } else if skip(.identifier("is")) {
                node = try parseTest(node)
            } else if current == .symbol("(") {
                node = .call(node, try parseArguments())
            } else {
                return node
            }
        }
    }

    /// A filter's name (checked) and arguments, after `|`.
    mutating func parseFilterNameAndArguments() throws(JinjaError) -> (name: String, arguments: [JinjaArgument]) {
        let name = try expectName()
        guard JinjaFilters.names.contains(name) else { throw JinjaError(.unsupported, "the filter '\(name)'") }
        let arguments = current == .symbol("(") ? try parseArguments() : []
        return (name, arguments)
    }

    /// After `is`: `[not] name`, then arguments in parentheses or one argument without.
    private mutating func parseTest(_ node: JinjaExpression) throws(JinjaError) -> JinjaExpression {
        let negated = skip(.identifier("not"))
        let name = try expectName()
        guard JinjaTests.names.contains(name) else { throw JinjaError(.unsupported, "the test '\(name)'") }
        var arguments: [JinjaArgument] = []
        if current == .symbol("(") {
            arguments = try parseArguments()
        } else if let token = current, Self.startsTestArgument(token) {
            arguments = [JinjaArgument(name: nil, value: try parsePostfix(try parsePrimary()))]
        }
        return .test(node, name: name, arguments, negated: negated)
    }

    /// Whether `token` starts the argument of a test written without parentheses (`is divisibleby 3`).
    private static func startsTestArgument(_ token: JinjaToken) -> Bool {
        switch token {
        case .identifier(let name): !["else", "or", "and", "is", "if", "in", "not"].contains(name)
        case .string, .number, .symbol("["), .symbol("{"): true
        default: false
        }
    }
}
