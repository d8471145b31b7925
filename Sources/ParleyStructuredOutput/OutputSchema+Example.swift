import ParleyJSON

extension OutputSchema {
    /// The JSON text of the smallest value of this schema: an object with its required keys only
    /// (in key order), an array of its fewest elements, every string `text`, numbers 1, `true`, the
    /// first of a list of literals or alternatives. For a model that makes up answers (load tests).
    public func example(text: String) -> String {
        switch self {
        case .anyValue, .null: return "null"
        case .object(let properties, let required, _):
            let members = required.sorted().map { key in
                JSON.quote(key) + ": " + (properties[key] ?? .anyValue).example(text: text)
            }
            return "{" + members.joined(separator: ", ") + "}"
        case .array(let items, let minItems, _):
            return "[" + Array(repeating: items.example(text: text), count: minItems).joined(separator: ", ") + "]"
        case .string: return JSON.quote(text)
        case .number: return "1"
        case .boolean: return "true"
        case .literals(let values): return values.first.map { String(decoding: $0, as: UTF8.self) } ?? "null"
        case .oneOf(let options): return options.first?.example(text: text) ?? "null"
        }
    }
}
