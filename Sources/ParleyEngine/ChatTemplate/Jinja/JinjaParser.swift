/// Parses the tokens of ``JinjaLexer`` (not normalized) into statements, checking that every
/// statement, filter and test the template names is one the interpreter implements.
struct JinjaParser {
    private(set) var tokens: [JinjaToken]
    /// The index of the current token.
    var position = 0
    /// How many `for` loops enclose the current statement (`break` and `continue` need one).
    private var loopDepth = 0
    /// How deeply the parser is nested in statements and expressions (``nest()``).
    private var nesting = 0

    /// The deepest nesting of statements, brackets and unary operators a template may have, and the
    /// most tokens one tag may hold: the parser and the renderer recurse that deep (a chain like
    /// `a ~ b ~ c` nests one level per operand), and a deeper template would overflow their stack.
    static let maximumNesting = 100
    static let maximumTagTokens = 1000

    /// The statements of `source`.
    static func parse(_ source: String) throws(JinjaError) -> [JinjaNode] {
        let tokens: [JinjaToken]
        do {
            tokens = try JinjaLexer.tokenize(source, normalized: false)
        } catch {
            throw JinjaError(.syntax, error.message)
        }
        var tagStart: Int?
        for (index, token) in tokens.enumerated() {
            switch token {
            case .open: tagStart = index
            case .close: tagStart = nil
            default:
                if let start = tagStart, index - start > maximumTagTokens {
                    throw JinjaError(.unsupported, "a tag of more than \(maximumTagTokens) tokens")
                }
            }
        }
        var parser = JinjaParser(tokens: tokens)
        let (nodes, end) = try parser.parseBody(until: [])
        if let end { throw JinjaError(.syntax, "unexpected '\(end)'") }
        return nodes
    }

    /// A parser at the first of `tokens`.
    init(tokens: [JinjaToken]) {
        self.tokens = tokens
    }

    // MARK: Token access

    /// The token at ``position``, `nil` at the end.
    var current: JinjaToken? { position < tokens.count ? tokens[position] : nil }

    /// The token `offset` after the current one.
    func peek(_ offset: Int = 1) -> JinjaToken? {
        position + offset < tokens.count ? tokens[position + offset] : nil
    }

    /// Moves to the next token.
    mutating func advance() { position += 1 }

    /// Consumes the current token if it is `token`.
    mutating func skip(_ token: JinjaToken) -> Bool {
        guard current == token else { return false }
        advance()
        return true
    }

    /// Consumes `token`, failing if the current token is another.
    mutating func expect(_ token: JinjaToken) throws(JinjaError) {
        guard skip(token) else {
            throw JinjaError(.syntax, "expected \(Self.describe(token)), found \(describeCurrent)")
        }
    }

    /// Consumes an identifier and returns it.
    mutating func expectName() throws(JinjaError) -> String {
        guard case .identifier(let name) = current else {
            throw JinjaError(.syntax, "expected a name, found \(describeCurrent)")
        }
        advance()
        return name
    }

    /// The current token as error messages name it.
    var describeCurrent: String { current.map(Self.describe) ?? "the end of the template" }

    /// `token` as error messages name it.
    static func describe(_ token: JinjaToken) -> String {
        switch token {
        case .text: "text"
        case .open(let tag): tag == .statement ? "'{%'" : "'{{'"
        case .close(let tag): tag == .statement ? "'%}'" : "'}}'"
        case .identifier(let name): "'\(name)'"
        case .string(let value): "the string '\(value)'"
        case .number(let value): value
        case .symbol(let symbol): "'\(symbol)'"
        }
    }

    // MARK: Statements

    /// Nodes up to a statement whose keyword is in `enders` (consumed with its keyword; the rest
    /// of that tag is left to the caller), or to the end of the template when `enders` is empty.
    /// Enters one more level of nesting; call `nesting -= 1` when leaving it.
    mutating func nest() throws(JinjaError) {
        nesting += 1
        guard nesting <= Self.maximumNesting else {
            throw JinjaError(.unsupported, "nesting deeper than \(Self.maximumNesting) levels")
        }
    }

    mutating func unnest() { nesting -= 1 }

    mutating func parseBody(until enders: Set<String>) throws(JinjaError) -> ([JinjaNode], String?) {
        try nest()
        defer { unnest() }
        var nodes: [JinjaNode] = []
        while let token = current {
            switch token {
            case .text(let text):
                advance()
                nodes.append(.text(text))
            case .open(.expression):
                advance()
                nodes.append(.output(try parseTuple()))
                try expect(.close(.expression))
            case .open(.statement):
                guard case .identifier(let keyword) = peek() else {
                    throw JinjaError(.syntax, "a statement must start with a keyword")
                }
                if enders.contains(keyword) {
                    position += 2
                    return (nodes, keyword)
                }
                position += 2
                nodes += try parseStatement(keyword)
            default:
                throw JinjaError(.syntax, "unexpected \(Self.describe(token))")
            }
        }
        if !enders.isEmpty {
            throw JinjaError(.syntax, "missing \(enders.sorted().map { "'\($0)'" }.joined(separator: " or "))")
        }
        return (nodes, nil)
    }

    /// The statement after `{% keyword`, through its end tag.
    private mutating func parseStatement(_ keyword: String) throws(JinjaError) -> [JinjaNode] {
        switch keyword {
        case "if": return [try parseIf()]
        case "for": return [try parseFor()]
        case "set": return [try parseSet()]
        case "macro": return [try parseMacro()]
        case "filter": return [try parseFilterBlock()]
        case "generation":
            // transformers' tag marking the assistant's text: renders its body.
            try expect(.close(.statement))
            let (body, _) = try parseBody(until: ["endgeneration"])
            try expect(.close(.statement))
            return body
        case "break", "continue":
            guard loopDepth > 0 else { throw JinjaError(.syntax, "'\(keyword)' outside a loop") }
            try expect(.close(.statement))
            return [keyword == "break" ? .breakLoop : .continueLoop]
        default:
            throw JinjaError(.unsupported, "the '{% \(keyword) %}' statement")
        }
    }

    private mutating func parseIf() throws(JinjaError) -> JinjaNode {
        var branches: [(condition: JinjaExpression, body: [JinjaNode])] = []
        var condition = try parseTuple(withConditional: false)
        while true {
            try expect(.close(.statement))
            let (body, end) = try parseBody(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch end {
            case "elif":
                condition = try parseTuple(withConditional: false)
            case "else":
                try expect(.close(.statement))
                let (otherwise, _) = try parseBody(until: ["endif"])
                try expect(.close(.statement))
                return .branches(branches, otherwise: otherwise)
            default:
                try expect(.close(.statement))
                return .branches(branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor() throws(JinjaError) -> JinjaNode {
        let target = try parseAssignTarget(allowAttribute: false)
        try expect(.identifier("in"))
        let iterable = try parseTuple(withConditional: false)
        var condition: JinjaExpression?
        if skip(.identifier("if")) { condition = try parseExpression() }
        if current == .identifier("recursive") { throw JinjaError(.unsupported, "recursive loops") }
        try expect(.close(.statement))
        loopDepth += 1
        let (body, end) = try parseBody(until: ["else", "endfor"])
        loopDepth -= 1
        try expect(.close(.statement))
        var otherwise: [JinjaNode] = []
        if end == "else" {
            (otherwise, _) = try parseBody(until: ["endfor"])
            try expect(.close(.statement))
        }
        return .loop(
            JinjaLoop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise))
    }

    /// `name`, `a, b` (optionally in parentheses) or, for `set`, `ns.attribute`.
    private mutating func parseAssignTarget(allowAttribute: Bool) throws(JinjaError) -> JinjaTarget {
        let parenthesized = skip(.symbol("("))
        var names = [try expectName()]
        if allowAttribute, !parenthesized, skip(.symbol(".")) {
            return .attribute(names[0], try expectName())
        }
        while skip(.symbol(",")) {
            guard case .identifier = current else { break }
            names.append(try expectName())
        }
        if parenthesized { try expect(.symbol(")")) }
        return names.count == 1 && !parenthesized ? .name(names[0]) : .names(names)
    }

    private mutating func parseSet() throws(JinjaError) -> JinjaNode {
        let target = try parseAssignTarget(allowAttribute: true)
        if skip(.symbol("=")) {
            let value = try parseTuple()
            try expect(.close(.statement))
            return .assign(target, value)
        }
        guard case .name(let name) = target else {
            throw JinjaError(.syntax, "a block 'set' assigns to one name")
        }
        var filters: [(name: String, arguments: [JinjaArgument])] = []
        while skip(.symbol("|")) {
            filters.append(try parseFilterNameAndArguments())
        }
        try expect(.close(.statement))
        let (body, _) = try parseBody(until: ["endset"])
        try expect(.close(.statement))
        return .assignBlock(name, body: body, filters: filters)
    }

    private mutating func parseMacro() throws(JinjaError) -> JinjaNode {
        let name = try expectName()
        try expect(.symbol("("))
        var parameters: [(name: String, defaultValue: JinjaExpression?)] = []
        while !skip(.symbol(")")) {
            if !parameters.isEmpty { try expect(.symbol(",")) }
            if skip(.symbol(")")) { break }
            let parameter = try expectName()
            let defaultValue = skip(.symbol("=")) ? try parseExpression() : nil
            parameters.append((parameter, defaultValue))
        }
        try expect(.close(.statement))
        let depth = loopDepth
        loopDepth = 0
        let (body, _) = try parseBody(until: ["endmacro"])
        loopDepth = depth
        try expect(.close(.statement))
        return .macro(JinjaMacroDefinition(name: name, parameters: parameters, body: body))
    }

    private mutating func parseFilterBlock() throws(JinjaError) -> JinjaNode {
        let (name, arguments) = try parseFilterNameAndArguments()
        if current == .symbol("|") { throw JinjaError(.unsupported, "a filter block with several filters") }
        try expect(.close(.statement))
        let (body, _) = try parseBody(until: ["endfilter"])
        try expect(.close(.statement))
        return .filterBlock(name: name, arguments: arguments, body: body)
    }
}
