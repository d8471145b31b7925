/// The syntax tree of a parsed Jinja template: statements (``JinjaNode``) holding expressions
/// (``JinjaExpression``).

/// A constant written in the template.
enum JinjaLiteral: Sendable, Hashable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
}

/// A call argument: positional (`name` nil) or keyword (`name=value`).
struct JinjaArgument: Sendable {
    /// The keyword, `nil` for a positional argument.
    var name: String?
    /// The argument's expression.
    var value: JinjaExpression
}

/// A binary operator other than comparisons.
enum JinjaBinaryOperator: String, Sendable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case floorDivide = "//"
    case modulo = "%"
    case power = "**"
    case concatenate = "~"
    case and, or
}

/// A comparison operator; several can be chained (`a < b < c`).
enum JinjaComparison: String, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case contains = "in"
    case notContains = "not in"
}

/// An expression.
indirect enum JinjaExpression: Sendable {
    case literal(JinjaLiteral)
    /// A variable.
    case name(String)
    case list([JinjaExpression])
    case tuple([JinjaExpression])
    case dict([(key: JinjaExpression, value: JinjaExpression)])
    /// `x.name`: the attribute first, then the item.
    case attribute(JinjaExpression, String)
    /// `x[key]`: the item first, then (for a string key) the attribute.
    case item(JinjaExpression, JinjaExpression)
    /// `x[start:stop:step]`.
    case slice(JinjaExpression, start: JinjaExpression?, stop: JinjaExpression?, step: JinjaExpression?)
    case call(JinjaExpression, [JinjaArgument])
    /// `x | name(arguments)`.
    case filter(JinjaExpression, name: String, [JinjaArgument])
    /// `x is [not] name(arguments)`.
    case test(JinjaExpression, name: String, [JinjaArgument], negated: Bool)
    case not(JinjaExpression)
    case negate(JinjaExpression)
    case plus(JinjaExpression)
    case binary(JinjaBinaryOperator, JinjaExpression, JinjaExpression)
    case compare(JinjaExpression, [(JinjaComparison, JinjaExpression)])
    /// `value if condition else otherwise`; without `else` an undefined value.
    case conditional(value: JinjaExpression, condition: JinjaExpression, otherwise: JinjaExpression?)
}

/// What a `set` or `for` assigns to.
enum JinjaTarget: Sendable {
    case name(String)
    /// `a, b`: the value is unpacked.
    case names([String])
    /// `ns.attribute` of a `namespace()`.
    case attribute(String, String)
}

/// A statement or piece of output.
indirect enum JinjaNode: Sendable {
    /// Template text, written as is.
    case text(String)
    /// `{{ expression }}`.
    case output(JinjaExpression)
    /// `if`/`elif` branches in order, then the `else` body.
    case branches([(condition: JinjaExpression, body: [JinjaNode])], otherwise: [JinjaNode])
    case loop(JinjaLoop)
    /// `{% set target = value %}`.
    case assign(JinjaTarget, JinjaExpression)
    /// `{% set name %}body{% endset %}`, optionally through filters.
    case assignBlock(String, body: [JinjaNode], filters: [(name: String, arguments: [JinjaArgument])])
    case macro(JinjaMacroDefinition)
    /// `{% filter name %}body{% endfilter %}`.
    case filterBlock(name: String, arguments: [JinjaArgument], body: [JinjaNode])
    case breakLoop
    case continueLoop
}

/// A `for` loop.
struct JinjaLoop: Sendable {
    var target: JinjaTarget
    var iterable: JinjaExpression
    /// `for x in xs if condition`: items for which it is false are skipped (and not counted).
    var condition: JinjaExpression?
    var body: [JinjaNode]
    /// Rendered when no item was iterated.
    var otherwise: [JinjaNode]
}

/// A `{% macro name(parameters) %}` definition.
struct JinjaMacroDefinition: Sendable {
    var name: String
    /// Parameters in order, with their default values.
    var parameters: [(name: String, defaultValue: JinjaExpression?)]
    var body: [JinjaNode]
}
