/// A value while rendering, with Python's semantics as jinja2 has them.
enum JinjaValue {
    /// jinja2's default `Undefined`: prints as nothing, is false, iterates as empty; using it
    /// otherwise (an attribute, an item, arithmetic) fails. The text says what was undefined.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(JinjaText)
    case list([JinjaValue])
    case tuple([JinjaValue])
    case dict(JinjaDictionary)
    /// A `namespace()`: attributes that `set ns.x = …` changes from inside loops.
    case namespace(JinjaNamespace)
    /// A macro, a global function or a bound method.
    case function(JinjaFunction)

    /// A string from the template.
    static func template(_ text: String) -> JinjaValue { .string(JinjaText(text, isData: false)) }

    /// A string from the chat's data.
    static func data(_ text: String) -> JinjaValue { .string(JinjaText(text, isData: true)) }

    /// Python's truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let value): value
        case .int(let value): value != 0
        case .double(let value): value != 0
        case .string(let text): !text.isEmpty
        case .list(let items), .tuple(let items): !items.isEmpty
        case .dict(let dictionary): !dictionary.isEmpty
        case .namespace, .function: true
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { true } else { false }
    }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .list: "list"
        case .tuple: "tuple"
        case .dict: "dict"
        case .namespace: "Namespace"
        case .function: "function"
        }
    }

    /// The number as a double, for `int` and `float` (and `bool`, which Python counts as a number).
    var number: Double? {
        switch self {
        case .bool(let value): value ? 1 : 0
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The integer value of an `int` or `bool`.
    var integer: Int? {
        switch self {
        case .bool(let value): value ? 1 : 0
        case .int(let value): value
        default: nil
        }
    }

    /// Python's `==`.
    func equals(_ other: JinjaValue) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.string.unicodeScalars.elementsEqual(b.string.unicodeScalars)
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && a.keys.allSatisfy { key in b[key].map { a[key]!.equals($0) } ?? false }
        case (.namespace(let a), .namespace(let b)): return a === b
        default:
            if let a = integer, let b = other.integer { return a == b }
            if let a = number, let b = other.number { return a == b }
            return false
        }
    }

    /// Python's ordering (`<`) for numbers, strings and sequences; `nil` for other types (a
    /// TypeError in Python).
    func isLess(than other: JinjaValue) -> Bool? {
        switch (self, other) {
        case (.string(let a), .string(let b)):
            return a.string.unicodeScalars.lexicographicallyPrecedes(b.string.unicodeScalars) { $0.value < $1.value }
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !x.equals(y) { return x.isLess(than: y) }
            return a.count < b.count
        default:
            if let a = integer, let b = other.integer { return a < b }
            if let a = number, let b = other.number { return a < b }
            return nil
        }
    }

    /// Items when iterated: a list's, a dict's keys, a string's characters; undefined is empty.
    func iterated() throws(JinjaError) -> [JinjaValue] {
        switch self {
        case .undefined: return []
        case .list(let items), .tuple(let items): return items
        case .dict(let dictionary): return dictionary.keys.map { .string($0) }
        case .string(let text):
            let all = text.scalars
            return all.indices.map { .string(text.substring($0..<($0 + 1), of: all)) }
        default: throw JinjaError(.render, "'\(typeName)' object is not iterable")
        }
    }
}

/// A dict: string keys in insertion order (keys keep their origin, for `items()` and `tojson`).
struct JinjaDictionary {
    private(set) var keys: [JinjaText] = []
    private var values: [String: JinjaValue] = [:]
    private var keyIndex: [String: Int] = [:]

    init() {}

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }

    subscript(key: JinjaText) -> JinjaValue? { values[key.string] }

    subscript(key: String) -> JinjaValue? { values[key] }

    mutating func set(_ key: JinjaText, _ value: JinjaValue) {
        if keyIndex[key.string] == nil {
            keyIndex[key.string] = keys.count
            keys.append(key)
        }
        values[key.string] = value
    }

    /// The pairs in order.
    var items: [(key: JinjaText, value: JinjaValue)] { keys.map { ($0, values[$0.string]!) } }
}

/// The mutable attributes of a `namespace()` object, shared by every reference to it.
final class JinjaNamespace {
    var attributes = JinjaDictionary()
}

/// Something a template can call: positional and keyword arguments in, a value out.
struct JinjaFunction {
    /// The name shown in messages (`raise_exception`, `str.strip`, a macro's name).
    var name: String
    var call: (JinjaArguments) throws(JinjaError) -> JinjaValue
}
