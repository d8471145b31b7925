/// `x.name`, `x[key]` and `x[a:b:c]` as jinja2 resolves them: a missing attribute or item is
/// undefined, and anything taken from an undefined value fails.
enum JinjaAccess {
    /// `base.name`: a method of the value's type first, then the item `name`.
    static func attribute(_ base: JinjaValue, _ name: String) throws(JinjaError) -> JinjaValue {
        if case .undefined(let why) = base { throw JinjaError(.render, why) }
        if let method = JinjaMethods.method(name, of: base) { return .function(method) }
        return try item(base, .template(name), attributeFallback: false)
    }

    /// `base[key]`: the item first, then (for a string key) the method.
    static func item(_ base: JinjaValue, _ key: JinjaValue, attributeFallback: Bool = true) throws(JinjaError)
        -> JinjaValue
    {
        let missing = JinjaValue.undefined("'\(base.typeName) object' has no attribute or item \(key.pythonRepr)")
        switch (base, key) {
        case (.undefined(let why), _):
            throw JinjaError(.render, why)
        case (.dict(let dictionary), .string(let name)):
            if let value = dictionary[name] { return value }
        case (.namespace(let namespace), .string(let name)):
            if let value = namespace.attributes[name] { return value }
            return missing
        case (.list(let items), _), (.tuple(let items), _):
            if let index = key.integer {
                let position = index < 0 ? index + items.count : index
                return items.indices.contains(position) ? items[position] : missing
            }
        case (.string(let text), _):
            if let index = key.integer {
                let all = text.scalars
                let position = index < 0 ? index + all.count : index
                guard all.indices.contains(position) else { return missing }
                return .string(text.substring(position..<(position + 1), of: all))
            }
        default:
            break
        }
        if attributeFallback, case .string(let name) = key, let method = JinjaMethods.method(name.string, of: base) {
            return .function(method)
        }
        return missing
    }

    /// `base[start:stop:step]` of a list, tuple or string, with Python's bounds.
    static func slice(_ base: JinjaValue, start: Int?, stop: Int?, step: Int?) throws(JinjaError) -> JinjaValue {
        let step = step ?? 1
        guard step != 0 else { throw JinjaError(.render, "slice step cannot be zero") }
        let count: Int
        var all: [Unicode.Scalar] = []
        switch base {
        case .list(let items), .tuple(let items): count = items.count
        case .string(let text):
            all = text.scalars
            count = all.count
        case .undefined(let why): throw JinjaError(.render, why)
        default: throw JinjaError(.render, "'\(base.typeName)' object is not subscriptable")
        }
        let indices = sliceIndices(count: count, start: start, stop: stop, step: step)
        switch base {
        case .list(let items): return .list(indices.map { items[$0] })
        case .tuple(let items): return .tuple(indices.map { items[$0] })
        case .string(let text):
            if step == 1, let first = indices.first {
                return .string(text.substring(first..<(first + indices.count), of: all))
            }
            return .string(step == 1 ? JinjaText() : text.picking(indices))
        default: return .none
        }
    }

    /// The positions `[start:stop:step]` selects from `count` items (Python's `slice.indices`).
    static func sliceIndices(count: Int, start: Int?, stop: Int?, step: Int) -> [Int] {
        func clamp(_ value: Int?, _ defaultValue: Int, lower: Int, upper: Int) -> Int {
            guard var value else { return defaultValue }
            if value < 0 { value += count }
            return min(max(value, lower), upper)
        }
        if step > 0 {
            let from = clamp(start, 0, lower: 0, upper: count)
            let to = clamp(stop, count, lower: 0, upper: count)
            return Array(stride(from: from, to: to, by: step))
        }
        let from = clamp(start, count - 1, lower: -1, upper: count - 1)
        let to = clamp(stop, -1, lower: -1, upper: count - 1)
        return Array(stride(from: from, to: to, by: step))
    }
}
