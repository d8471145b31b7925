import ParleyJSON

extension JSONValue {
    /// Parses a body that must be a JSON object.
    static func object(from bytes: some Collection<UInt8>) throws -> [String: JSONValue] {
        guard !bytes.isEmpty else { throw OpenAIError.invalid("the request body is empty", code: "invalid_json") }
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw OpenAIError.invalid("the request body is not valid JSON", code: "invalid_json")
        }
        guard case .object(let object) = value else {
            throw OpenAIError.invalid("the request body must be a JSON object", code: "invalid_json")
        }
        return object
    }
}

/// Typed access to the fields of a JSON object with OpenAI-shaped errors naming the field.
struct JSONFields {
    let object: [String: JSONValue]
    /// Prefix of `param` in errors (e.g. `messages[2].`).
    var prefix = ""

    func present(_ key: String) -> Bool {
        if case .some(.null) = object[key] { return false }
        return object[key] != nil
    }

    func wrongType(_ key: String, _ expected: String) -> OpenAIError {
        OpenAIError.invalid(
            "'\(prefix)\(key)' must be \(expected), got \(object[key]?.typeName ?? "nothing")", param: prefix + key,
            code: "invalid_type")
    }

    func string(_ key: String) throws -> String? {
        guard present(key) else { return nil }
        guard case .string(let value) = object[key] else { throw wrongType(key, "a string") }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard present(key) else { return nil }
        guard case .bool(let value) = object[key] else { throw wrongType(key, "a boolean") }
        return value
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard present(key) else { return nil }
        guard case .number(let value) = object[key], value.isFinite else { throw wrongType(key, "a number") }
        guard range.contains(value) else {
            throw OpenAIError.invalid(
                "'\(prefix)\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)",
                param: prefix + key)
        }
        return value
    }

    func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard present(key) else { return nil }
        guard case .number(let value) = object[key], value.isFinite, value.rounded() == value,
            abs(value) < 9.0e15
        else { throw wrongType(key, "an integer") }
        guard range.contains(Int(value)) else {
            throw OpenAIError.invalid(
                "'\(prefix)\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(Int(value))",
                param: prefix + key)
        }
        return Int(value)
    }

    func object(_ key: String) throws -> JSONFields? {
        guard present(key) else { return nil }
        guard case .object(let value) = object[key] else { throw wrongType(key, "an object") }
        return JSONFields(object: value, prefix: "\(prefix)\(key).")
    }
}
