public import ParleyJSON

/// What a structured answer must be: a JSON schema compiled to the checks constrained decoding can
/// make byte by byte (``JSONPrefixValidator``).
///
/// Built from the subset of JSON Schema that structured-output clients send (OpenAI's strict
/// schemas, Pydantic's): `type` (one or a list), `properties`, `required`, `additionalProperties`
/// (`false` or `true`), `items`, `minItems`, `maxItems`, `enum`, `const`, `anyOf`, and local
/// `$ref`s into `$defs` or `definitions`; annotations (`title`, `description`, `default`, …) are
/// ignored. Any other keyword (`pattern`, `minimum`, `format`, …) is refused rather than ignored:
/// an answer could otherwise break a promise the schema makes.
public indirect enum OutputSchema: Sendable, Equatable {
    /// Any JSON value.
    case anyValue
    /// An object. With `properties`, only those keys, each at most once, and every `required`
    /// one before it closes; without, any keys (`open`) or none.
    case object(properties: [String: OutputSchema], required: Set<String>, open: Bool)
    /// An array of `items`, with `minItems`…`maxItems` (nil: no limit) elements.
    case array(items: OutputSchema, minItems: Int, maxItems: Int?)
    case string
    /// A number; `integer` forbids a fraction and an exponent.
    case number(integer: Bool)
    case boolean
    case null
    /// One of these values, each as its JSON text (`enum`, `const`): the answer writes one of
    /// them exactly so.
    case literals([[UInt8]])
    /// One of several schemas, told apart by their value's first byte (a string, a number, null…).
    case oneOf([OutputSchema])

    /// Any JSON object: OpenAI's `json_object` response format.
    public static let anyObject = OutputSchema.object(properties: [:], required: [], open: true)
}

/// Why a JSON schema cannot be used.
public struct OutputSchemaError: Error, Equatable, CustomStringConvertible {
    /// What is wrong, naming the keyword and where it is (`properties.age.minimum`).
    public var message: String
    public var description: String { message }
}

extension OutputSchema {
    /// Annotation keywords: they describe, they do not constrain.
    static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "$defs", "definitions", "strict",
    ]
    static let understood: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
        "anyOf", "$ref",
    ]
    /// The most nodes a schema may compile to (a bound on its cost).
    public static let maxNodes = 2_000
    /// The most values one `enum` may list (each byte of an answer is checked against those left).
    public static let maxEnumValues = 1_000

    /// Compiles the JSON schema `schema`; its root must be an object (as OpenAI requires).
    public static func compile(_ schema: JSONValue) throws(OutputSchemaError) -> OutputSchema {
        var compiler = Compiler(root: schema)
        let compiled = try compiler.compile(schema, at: "", resolving: [])
        guard case .object = compiled else {
            throw OutputSchemaError(message: "the schema's root must be an object (\"type\": \"object\")")
        }
        return compiled
    }

    private struct Compiler {
        let root: JSONValue
        var nodes = 0

        mutating func compile(_ schema: JSONValue, at path: String, resolving: Set<String>) throws(OutputSchemaError)
            -> OutputSchema
        {
            nodes += 1
            guard nodes <= OutputSchema.maxNodes else {
                throw OutputSchemaError(message: "the schema is too large (more than \(OutputSchema.maxNodes) parts)")
            }
            if case .bool(true) = schema { return .anyValue }
            guard case .object(let keywords) = schema else {
                throw OutputSchemaError(message: "\(where_(path)) must be an object")
            }
            for keyword in keywords.keys.sorted()
            where !OutputSchema.understood.contains(keyword) && !OutputSchema.annotations.contains(keyword) {
                throw OutputSchemaError(message: "the JSON schema keyword '\(keyword)' (\(where_(path))) is not supported")
            }
            if case .string(let reference)? = keywords["$ref"] {
                guard keywords.keys.allSatisfy({ $0 == "$ref" || OutputSchema.annotations.contains($0) }) else {
                    throw OutputSchemaError(message: "\(where_(path)): '$ref' beside other keywords is not supported")
                }
                guard !resolving.contains(reference) else {
                    throw OutputSchemaError(message: "recursive schemas are not supported ('\(reference)')")
                }
                return try compile(resolve(reference, at: path), at: path, resolving: resolving.union([reference]))
            }
            if let values = keywords["enum"] ?? keywords["const"].map({ JSONValue.array([$0]) }) {
                return try literals(values, at: path)
            }
            if case .array(let alternatives)? = keywords["anyOf"] {
                let compiled = try alternatives.enumerated().map { (i, alternative) throws(OutputSchemaError) in
                    try compile(alternative, at: path + ".anyOf[\(i)]", resolving: resolving)
                }
                return try oneOf(compiled, at: path)
            }
            switch keywords["type"] {
            case .string(let type)?:
                return try typed(type, keywords, at: path, resolving: resolving)
            case .array(let types)?:
                var compiled: [OutputSchema] = []
                for type in types {
                    guard case .string(let name) = type else {
                        throw OutputSchemaError(message: "\(where_(path)).type must hold type names")
                    }
                    compiled.append(try typed(name, keywords, at: path, resolving: resolving))
                }
                return try oneOf(compiled, at: path)
            case nil:
                if keywords["properties"] != nil { return try typed("object", keywords, at: path, resolving: resolving) }
                if keywords["items"] != nil { return try typed("array", keywords, at: path, resolving: resolving) }
                return .anyValue
            default:
                throw OutputSchemaError(message: "\(where_(path)).type must be a type name or a list of them")
            }
        }

        mutating func typed(_ type: String, _ keywords: [String: JSONValue], at path: String, resolving: Set<String>)
            throws(OutputSchemaError) -> OutputSchema
        {
            switch type {
            case "string": return .string
            case "number": return .number(integer: false)
            case "integer": return .number(integer: true)
            case "boolean": return .boolean
            case "null": return .null
            case "array":
                let items = try keywords["items"].map { (items) throws(OutputSchemaError) in
                    try compile(items, at: path + ".items", resolving: resolving)
                } ?? .anyValue
                let minItems = try count(keywords["minItems"], "minItems", at: path) ?? 0
                let maxItems = try count(keywords["maxItems"], "maxItems", at: path)
                if let maxItems, maxItems < minItems {
                    throw OutputSchemaError(message: "\(where_(path)): maxItems is below minItems")
                }
                return .array(items: items, minItems: minItems, maxItems: maxItems)
            case "object":
                var properties: [String: OutputSchema] = [:]
                if let declared = keywords["properties"] {
                    guard case .object(let members) = declared else {
                        throw OutputSchemaError(message: "\(where_(path)).properties must be an object")
                    }
                    for name in members.keys.sorted() {
                        properties[name] = try compile(members[name]!, at: path + ".properties.\(name)", resolving: resolving)
                    }
                }
                var required: Set<String> = []
                if let list = keywords["required"] {
                    guard case .array(let names) = list else {
                        throw OutputSchemaError(message: "\(where_(path)).required must be a list of names")
                    }
                    for name in names {
                        guard case .string(let name) = name, properties[name] != nil else {
                            throw OutputSchemaError(
                                message: "\(where_(path)).required names a property that 'properties' does not declare")
                        }
                        required.insert(name)
                    }
                }
                let open: Bool
                switch keywords["additionalProperties"] {
                case nil, .bool(true)?: open = properties.isEmpty
                case .bool(false)?: open = false
                default:
                    throw OutputSchemaError(
                        message: "\(where_(path)).additionalProperties must be true or false (a schema is not supported)")
                }
                return .object(properties: properties, required: required, open: open)
            default:
                throw OutputSchemaError(message: "\(where_(path)).type '\(type.prefix(40))' is not a JSON type")
            }
        }

        func count(_ value: JSONValue?, _ keyword: String, at path: String) throws(OutputSchemaError) -> Int? {
            guard let value else { return nil }
            guard let count = value.integer, count >= 0 else {
                throw OutputSchemaError(message: "\(where_(path)).\(keyword) must be a whole number ≥ 0")
            }
            return count
        }

        func literals(_ values: JSONValue, at path: String) throws(OutputSchemaError) -> OutputSchema {
            guard case .array(let list) = values, !list.isEmpty else {
                throw OutputSchemaError(message: "\(where_(path)).enum must be a list of values")
            }
            guard list.count <= OutputSchema.maxEnumValues else {
                throw OutputSchemaError(
                    message: "\(where_(path)).enum lists more than \(OutputSchema.maxEnumValues) values")
            }
            var encodings: [[UInt8]] = []
            for value in list {
                switch value {
                case .array, .object:
                    throw OutputSchemaError(message: "\(where_(path)): only strings, numbers, booleans and null can be enum values")
                default:
                    encodings.append(Array(value.jsonText.utf8))
                }
            }
            return .literals(encodings)
        }

        func oneOf(_ alternatives: [OutputSchema], at path: String) throws(OutputSchemaError) -> OutputSchema {
            guard !alternatives.isEmpty else { throw OutputSchemaError(message: "\(where_(path)): anyOf is empty") }
            if alternatives.count == 1 { return alternatives[0] }
            var taken = Set<UInt8>()
            for alternative in alternatives {
                let first = alternative.firstBytes
                guard taken.isDisjoint(with: first) else {
                    throw OutputSchemaError(
                        message: "\(where_(path)): alternatives whose values can start alike (two objects, two strings…) are not supported")
                }
                taken.formUnion(first)
            }
            return .oneOf(alternatives)
        }

        func resolve(_ reference: String, at path: String) throws(OutputSchemaError) -> JSONValue {
            for prefix in ["#/$defs/", "#/definitions/"] where reference.hasPrefix(prefix) {
                let name = String(reference.dropFirst(prefix.count))
                if let target = root[String(prefix.dropFirst(2).dropLast())]?[name] { return target }
            }
            if reference == "#" { return root }
            throw OutputSchemaError(message: "\(where_(path)): '$ref' \(reference.prefix(80)) does not name a schema in $defs")
        }

        func where_(_ path: String) -> String { path.isEmpty ? "the schema" : "'\(path.dropFirst())'" }
    }

    /// The bytes a value of this schema can start with.
    var firstBytes: Set<UInt8> {
        let digits = Set((UInt8(ascii: "0")...UInt8(ascii: "9")).map { $0 })
        switch self {
        case .anyValue: return Set(Array("{[\"tfn-".utf8)).union(digits)
        case .object: return [UInt8(ascii: "{")]
        case .array: return [UInt8(ascii: "[")]
        case .string: return [UInt8(ascii: "\"")]
        case .number: return digits.union([UInt8(ascii: "-")])
        case .boolean: return [UInt8(ascii: "t"), UInt8(ascii: "f")]
        case .null: return [UInt8(ascii: "n")]
        case .literals(let values): return Set(values.compactMap(\.first))
        case .oneOf(let alternatives): return alternatives.reduce(into: []) { $0.formUnion($1.firstBytes) }
        }
    }
}
