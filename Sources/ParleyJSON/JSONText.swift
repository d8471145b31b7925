extension JSONValue {
    /// The value as compact JSON text, object members in key order (the same value, the same text).
    public var jsonText: String {
        var text = ""
        write(to: &text)
        return text
    }

    private func write(to text: inout String) {
        switch self {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .number(let value): text += JSONValue.numberText(value)
        case .string(let value): text += JSON.quote(value)
        case .array(let values):
            text += "["
            for (i, value) in values.enumerated() {
                if i > 0 { text += "," }
                value.write(to: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { text += "," }
                text += JSON.quote(key) + ":"
                members[key]!.write(to: &text)
            }
            text += "}"
        }
    }

    /// A number as JSON writes it: integers without a fraction, others in Swift's shortest form.
    public static func numberText(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 9.0e15 { return String(Int(value)) }
        return value.isFinite ? String(value) : "null"
    }
}
