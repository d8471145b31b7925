/// Variables visible at a point of a template: jinja2's scoping, where a `for` body or a macro
/// body gets its own scope (a `set` there does not leak out) and `if` does not.
final class JinjaScope {
    private var variables: [String: JinjaValue]
    let parent: JinjaScope?

    /// A scope holding `variables`, inside `parent` (registered with the root, see ``release()``).
    init(_ variables: [String: JinjaValue] = [:], parent: JinjaScope?) {
        self.variables = variables
        self.parent = parent
        parent?.root.descendants.append(self)
    }

    /// The value of `name` here or in an enclosing scope.
    func lookup(_ name: String) -> JinjaValue? {
        variables[name] ?? parent?.lookup(name)
    }

    /// Sets `name` in this scope.
    func set(_ name: String, _ value: JinjaValue) { variables[name] = value }

    /// The outermost scope, the template's.
    var root: JinjaScope { parent?.root ?? self }

    /// How many macro calls are running (kept on the root scope): recursion is bounded.
    var macroDepth = 0
    /// Statements run and loop items visited so far, and how many may be (kept on the root scope).
    var steps = 0
    var stepLimit = Int.max
    /// Every scope made inside this one while rendering (kept on the root scope), emptied when the
    /// render ends: a macro's function holds its scope, which holds the macro.
    private var descendants: [JinjaScope] = []

    /// Counts one step of work; fails past the root's ``stepLimit``.
    func step() throws(JinjaError) {
        let root = self.root
        root.steps += 1
        guard root.steps <= root.stepLimit else {
            throw JinjaError(.render, "the template does more than \(root.stepLimit) steps of work")
        }
    }

    /// Empties this scope and every scope made inside it, breaking the cycles macros make.
    func release() {
        for scope in descendants { scope.variables.removeAll() }
        descendants.removeAll()
        variables.removeAll()
    }
}

/// Runs parsed statements, writing their output as ``JinjaText``.
struct JinjaRenderer {
    /// How a run of statements ended: normally, or at `break`/`continue`.
    enum Flow {
        case normal, breakLoop, continueLoop
    }

    /// How deep macros may call macros (jinja2 stops at Python's recursion limit; the render
    /// thread's stack is smaller).
    static let maximumMacroDepth = 64

    /// Statements and loop items one render may run (real chat templates run a few thousand).
    static let maximumSteps = 2_000_000

    /// The template's statements with `globals` (functions and the context's variables) in scope.
    static func render(
        _ nodes: [JinjaNode], globals: [String: JinjaValue], stepLimit: Int = maximumSteps
    ) throws(JinjaError) -> JinjaText {
        var out = JinjaText()
        let root = JinjaScope(globals, parent: nil)
        root.stepLimit = stepLimit
        defer { root.release() }
        _ = try execute(nodes, in: root, into: &out)
        return out
    }

    /// Runs `nodes` in `scope`, appending their output to `out`.
    static func execute(_ nodes: [JinjaNode], in scope: JinjaScope, into out: inout JinjaText) throws(JinjaError)
        -> Flow
    {
        for node in nodes {
            try scope.step()
            switch node {
            case .text(let text):
                out.append(JinjaText(text, isData: false))
            case .output(let expression):
                out.append(try evaluate(expression, in: scope).text)
            case .branches(let branches, let otherwise):
                var body = otherwise
                for branch in branches where try evaluate(branch.condition, in: scope).isTruthy {
                    body = branch.body
                    break
                }
                let flow = try execute(body, in: scope, into: &out)
                if flow != .normal { return flow }
            case .loop(let loop):
                try run(loop, in: scope, into: &out)
            case .assign(let target, let expression):
                try assign(try evaluate(expression, in: scope), to: target, in: scope)
            case .assignBlock(let name, let body, let filters):
                var captured = JinjaText()
                _ = try execute(body, in: scope, into: &captured)
                var value = JinjaValue.string(captured)
                for filter in filters {
                    value = try JinjaFilters.apply(
                        filter.name, to: value, try evaluateArguments(filter.arguments, in: scope))
                }
                scope.set(name, value)
            case .macro(let definition):
                scope.set(definition.name, .function(macro(definition, in: scope)))
            case .filterBlock(let name, let arguments, let body):
                var captured = JinjaText()
                _ = try execute(body, in: scope, into: &captured)
                let value = try JinjaFilters.apply(
                    name, to: .string(captured), try evaluateArguments(arguments, in: scope))
                out.append(value.text)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    /// Binds `value` to `target` in `scope` (unpacking for `a, b`).
    static func assign(_ value: JinjaValue, to target: JinjaTarget, in scope: JinjaScope) throws(JinjaError) {
        switch target {
        case .name(let name):
            scope.set(name, value)
        case .names(let names):
            let items = try value.iterated()
            guard items.count == names.count else {
                throw JinjaError(
                    .render,
                    "cannot unpack \(items.count) values into \(names.count) names (\(names.joined(separator: ", ")))")
            }
            for (name, item) in zip(names, items) { scope.set(name, item) }
        case .attribute(let name, let attribute):
            guard case .namespace(let namespace) = scope.lookup(name) ?? .undefined(name) else {
                throw JinjaError(.render, "cannot assign attribute on non-namespace object '\(name)'")
            }
            namespace.attributes.set(JinjaText(attribute, isData: false), value)
        }
    }

    /// A `for` loop: each item in a fresh scope with `loop`.
    private static func run(_ loop: JinjaLoop, in scope: JinjaScope, into out: inout JinjaText) throws(JinjaError) {
        var items = try evaluate(loop.iterable, in: scope).iterated()
        if let condition = loop.condition {
            var kept: [JinjaValue] = []
            for item in items {
                try scope.step()
                let itemScope = JinjaScope(parent: scope)
                try assign(item, to: loop.target, in: itemScope)
                if try evaluate(condition, in: itemScope).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(loop.otherwise, in: scope, into: &out)
            return
        }
        for (index, item) in items.enumerated() {
            try scope.step()
            let itemScope = JinjaScope(["loop": loopVariable(items, index)], parent: scope)
            try assign(item, to: loop.target, in: itemScope)
            if try execute(loop.body, in: itemScope, into: &out) == .breakLoop { break }
        }
    }

    /// The `loop` object for item `index` of `items`.
    private static func loopVariable(_ items: [JinjaValue], _ index: Int) -> JinjaValue {
        var loop = JinjaDictionary()
        let count = items.count
        func set(_ key: String, _ value: JinjaValue) { loop.set(JinjaText(key, isData: false), value) }
        set("index", .int(index + 1))
        set("index0", .int(index))
        set("revindex", .int(count - index))
        set("revindex0", .int(count - index - 1))
        set("first", .bool(index == 0))
        set("last", .bool(index == count - 1))
        set("length", .int(count))
        set("depth", .int(1))
        set("depth0", .int(0))
        set("previtem", index > 0 ? items[index - 1] : .undefined("there is no previous item"))
        set("nextitem", index + 1 < count ? items[index + 1] : .undefined("there is no next item"))
        set(
            "cycle",
            .function(
                JinjaFunction(name: "loop.cycle") { arguments throws(JinjaError) in
                    let positional = arguments.positional
                    guard !positional.isEmpty else { throw JinjaError(.render, "no items for cycling given") }
                    return positional[index % positional.count]
                }))
        return .dict(loop)
    }

    /// A macro as a function: parameters bound in a scope of their own, its output returned.
    private static func macro(_ definition: JinjaMacroDefinition, in scope: JinjaScope) -> JinjaFunction {
        JinjaFunction(name: definition.name) { arguments throws(JinjaError) in
            let (positional, keywords) = (arguments.positional, arguments.keywords)
            let root = scope.root
            guard root.macroDepth < maximumMacroDepth else {
                throw JinjaError(
                    .render, "macro '\(definition.name)' recurses more than \(maximumMacroDepth) calls deep")
            }
            root.macroDepth += 1
            defer { root.macroDepth -= 1 }
            let parameters = definition.parameters
            guard positional.count <= parameters.count else {
                throw JinjaError(
                    .render, "macro '\(definition.name)' takes not more than \(parameters.count) arguments")
            }
            let macroScope = JinjaScope(parent: scope)
            var bound: Set<String> = []
            for (parameter, value) in zip(parameters, positional) {
                macroScope.set(parameter.name, value)
                bound.insert(parameter.name)
            }
            for (name, value) in keywords {
                guard parameters.contains(where: { $0.name == name }), !bound.contains(name) else {
                    throw JinjaError(.render, "macro '\(definition.name)' takes no keyword argument '\(name)'")
                }
                macroScope.set(name, value)
                bound.insert(name)
            }
            for parameter in parameters where !bound.contains(parameter.name) {
                let value =
                    try parameter.defaultValue.map { (expression) throws(JinjaError) in
                        try evaluate(expression, in: macroScope)
                    } ?? .undefined("parameter '\(parameter.name)' was not provided")
                macroScope.set(parameter.name, value)
            }
            var out = JinjaText()
            _ = try execute(definition.body, in: macroScope, into: &out)
            return .string(out)
        }
    }
}
