import ParleyJSON
import ParleyStructuredOutput
import Testing

/// JSON schemas compile to what the validator checks, and the validator holds an answer to them:
/// declared keys only and each once, required keys before the object closes, typed values, enums,
/// array sizes, unions by first byte, `$ref`s into `$defs`. Unsupported keywords are refused.
struct OutputSchemaTests {
    static func schema(_ json: String) throws -> OutputSchema {
        try OutputSchema.compile(JSONParser.parse(json.utf8))
    }

    static func accepts(_ schema: OutputSchema, _ text: String) -> (prefix: Bool, complete: Bool) {
        var validator = JSONPrefixValidator(schema: schema)
        let prefix = validator.read(Array(text.utf8))
        return (prefix, validator.isComplete)
    }

    static let person = #"""
        {"type": "object", "additionalProperties": false, "required": ["name", "age", "tags", "kind"],
         "properties": {
           "name": {"type": "string", "description": "who"},
           "age": {"type": "integer"},
           "height": {"type": ["number", "null"]},
           "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
           "kind": {"enum": ["cat", "dog", 3, null]},
           "pet": {"$ref": "#/$defs/Pet"}},
         "$defs": {"Pet": {"type": "object", "properties": {"alive": {"type": "boolean"}}, "required": ["alive"]}}}
        """#

    @Test(arguments: [
        #"{"name": "Ann", "age": 31, "tags": ["a"], "kind": "cat"}"#,
        #"{"kind": 3, "tags": ["a", "b"], "age": -2, "name": "", "height": 1.5e3}"#,
        #" {"name":"x","age":0,"tags":["y"],"kind":null,"height":null,"pet":{"alive":true}} "#,
    ])
    func answersThatFollowTheSchemaAreWhole(_ text: String) throws {
        let result = Self.accepts(try Self.schema(Self.person), text)
        #expect(result.prefix && result.complete, "\(text)")
    }

    @Test(arguments: [
        #"{"name": "Ann", "age": 31, "tags": ["a"]}"#,  // closes before "kind", which is required
        #"{"nick": "A""#,  // an undeclared key
        #"{"name": "A", "name""#,  // a key twice
        #"{"age": 3.5"#,  // not an integer
        #"{"age": "3""#,  // not a number
        #"{"tags": []"#,  // fewer than minItems
        #"{"tags": ["a", "b", "c""#,  // more than maxItems
        #"{"tags": [1"#,  // items are strings
        #"{"kind": "cow""#,  // not in the enum
        #"{"kind": 30"#,  // not in the enum (3 is, 30 is not)
        #"{"height": true"#,  // number or null only
        #"{"pet": {}"#,  // "alive" is required
        #"{"name": "A", "age": 1, "height": null, "tags": ["a"], "kind": "dog", "pet": {"alive": false},"#,  // all keys written
    ])
    func answersThatBreakTheSchemaFail(_ text: String) throws {
        let result = Self.accepts(try Self.schema(Self.person), text)
        #expect(!result.prefix || !result.complete, "\(text)")
        #expect(!result.prefix, "\(text) should fail at a byte")
    }

    @Test func anObjectWithoutPropertiesIsOpenUnlessClosed() throws {
        #expect(Self.accepts(try Self.schema(#"{"type": "object"}"#), #"{"any": [1, {"x": null}]}"#) == (true, true))
        #expect(Self.accepts(try Self.schema(#"{"type": "object", "additionalProperties": false}"#), "{}") == (true, true))
        #expect(!Self.accepts(try Self.schema(#"{"type": "object", "additionalProperties": false}"#), #"{"a""#).prefix)
        #expect(Self.accepts(.anyObject, "[]").prefix == false)
    }

    @Test(arguments: [
        (#"{"type": "string"}"#, "root"),
        (#"{"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}}"#, "'pattern'"),
        (#"{"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}}}"#, "'minimum'"),
        (#"{"type": "object", "properties": {"a": {"oneOf": []}}}"#, "'oneOf'"),
        (#"{"type": "object", "properties": {"a": {"anyOf": [{"type": "object"}, {"type": "object"}]}}}"#, "start alike"),
        (##"{"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"$ref": "#/$defs/A"}}}"##, "recursive"),
        (##"{"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}"##, "does not name"),
        (#"{"type": "object", "required": ["b"], "properties": {"a": {}}}"#, "required"),
        (#"{"type": "object", "additionalProperties": {"type": "string"}}"#, "additionalProperties"),
        (#"{"type": "object", "properties": {"a": {"type": "date"}}}"#, "not a JSON type"),
        (#"{"type": "object", "properties": {"a": {"enum": [[1]]}}}"#, "enum"),
    ])
    func unsupportedSchemasAreRefusedWithTheReason(_ json: String, _ reason: String) throws {
        #expect {
            _ = try Self.schema(json)
        } throws: { error in
            (error as? OutputSchemaError)?.message.contains(reason) == true
        }
    }

    @Test func aSchemaTooLargeIsRefused() throws {
        let properties = (0..<2_100).map { #""p\#($0)": {"type": "string"}"# }.joined(separator: ",")
        #expect(throws: OutputSchemaError.self) { try Self.schema(#"{"type": "object", "properties": {\#(properties)}}"#) }
        let values = (0..<1_001).map { "\($0)" }.joined(separator: ",")
        #expect(throws: OutputSchemaError.self) {
            try Self.schema(#"{"type": "object", "properties": {"a": {"enum": [\#(values)]}}}"#)
        }
    }

    /// The smallest value of a schema is one of its values: the validator takes it whole.
    @Test func anExampleFollowsItsSchema() throws {
        let schemas = [
            #"{"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2}, "unit": {"enum": ["c", "f"]}, "x": {"type": "boolean"}}, "required": ["tags", "city", "days", "unit"], "additionalProperties": false}"#,
            ##"{"type": "object", "properties": {"a": {"anyOf": [{"type": "null"}, {"type": "number"}]}, "b": {"$ref": "#/$defs/B"}}, "required": ["a", "b"], "$defs": {"B": {"type": "object", "properties": {"c": {"const": 3}}, "required": ["c"]}}}"##,
            #"{"type": "object"}"#,
        ]
        for text in schemas {
            let schema = try Self.schema(text)
            let example = schema.example(text: "a \"quoted\" word")
            #expect(Self.accepts(schema, example) == (true, true), "\(example)")
        }
        #expect(
            try Self.schema(schemas[0]).example(text: "w")
                == #"{"city": "w", "days": 1, "tags": ["w", "w"], "unit": "c"}"#)
    }

    @Test func jsonTextIsCanonical() throws {
        let value = try JSONParser.parse(#"{"b": [1, 2.5, "x\"y", null, true], "a": {}}"#.utf8)
        #expect(value.jsonText == #"{"a":{},"b":[1,2.5,"x\"y",null,true]}"#)
        #expect(try JSONParser.parse(value.jsonText.utf8) == value)
    }
}
