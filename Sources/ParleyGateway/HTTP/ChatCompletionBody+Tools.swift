import HTTPTypes
import ParleyJSON
import ParleyProtocol
import ParleyStructuredOutput
import ParleyToolCalls

extension ChatCompletionBody {
    /// Most tools one request may offer (OpenAI's limit).
    static let maxTools = 128

    /// `tools`, `tool_choice` and `parallel_tool_calls`; nil when no tools are offered. A tool's
    /// name is 1 to 64 letters, digits, `_` or `-`, unique; its `parameters` a JSON schema object;
    /// with `strict: true` the schema must be one ParleyStructuredOutput can enforce (422 otherwise).
    static func tools(_ fields: JSONFields) throws -> ToolOptions? {
        if fields.present("functions") {
            throw OpenAIError(
                .unprocessableContent, "'functions' is not supported; use 'tools'", param: "functions",
                code: "unsupported_parameter")
        }
        guard fields.present("tools") else {
            if fields.present("tool_choice") {
                throw OpenAIError.invalid("'tool_choice' is only allowed when 'tools' are given", param: "tool_choice")
            }
            if fields.present("parallel_tool_calls") {
                throw OpenAIError.invalid(
                    "'parallel_tool_calls' is only allowed when 'tools' are given", param: "parallel_tool_calls")
            }
            return nil
        }
        guard case .array(let entries) = fields.object["tools"] else { throw fields.wrongType("tools", "an array") }
        guard !entries.isEmpty, entries.count <= maxTools else {
            throw OpenAIError.invalid("'tools' must hold 1 to \(maxTools) tools", param: "tools")
        }
        var tools: [ToolDefinition] = []
        for (index, entry) in entries.enumerated() {
            let tool = try self.tool(entry, param: "tools[\(index)]")
            guard !tools.contains(where: { $0.name == tool.name }) else {
                throw OpenAIError.invalid(
                    "'tools[\(index)].function.name' '\(tool.name)' is given twice", param: "tools[\(index)].function.name")
            }
            tools.append(tool)
        }
        let parallel = try fields.bool("parallel_tool_calls") ?? true
        return ToolOptions(tools: tools, choice: try toolChoice(fields, tools: tools), parallelCalls: parallel)
    }

    private static func tool(_ entry: JSONValue, param: String) throws -> ToolDefinition {
        guard case .object(let object) = entry else {
            throw OpenAIError.invalid("'\(param)' must be an object", param: param, code: "invalid_type")
        }
        let fields = JSONFields(object: object, prefix: param + ".")
        guard let type = try fields.string("type") else {
            throw OpenAIError.invalid("'\(param).type' is required", param: param + ".type", code: "missing_required_parameter")
        }
        guard type == "function" else {
            throw OpenAIError(
                .unprocessableContent, "'\(param).type' '\(type.prefix(40))' is not supported; use 'function'",
                param: param + ".type", code: "unsupported_value")
        }
        guard let function = try fields.object("function") else {
            throw OpenAIError.invalid(
                "'\(param).function' is required", param: param + ".function", code: "missing_required_parameter")
        }
        guard let name = try function.string("name") else {
            throw OpenAIError.invalid(
                "'\(param).function.name' is required", param: param + ".function.name", code: "missing_required_parameter")
        }
        try checkName(name, param: param + ".function.name")
        let description = try function.string("description")
        let strict = try function.bool("strict") ?? false
        var parameters: String?
        if let schema = try function.object("parameters") {
            let value = JSONValue.object(schema.object)
            if strict {
                do {
                    _ = try OutputSchema.compile(value)
                } catch {
                    throw OpenAIError(
                        .unprocessableContent, "'\(param).function.parameters': \(error.message)",
                        param: param + ".function.parameters", code: "unsupported_value")
                }
            }
            parameters = value.jsonText
        }
        return ToolDefinition(name: name, description: description, parameters: parameters, strict: strict)
    }

    /// A name OpenAI restricts (a function's, a JSON schema's): 1 to 64 ASCII letters, digits, `_` or `-`.
    static func checkName(_ name: String, param: String) throws {
        guard !name.isEmpty, name.utf8.count <= 64,
            name.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            })
        else {
            throw OpenAIError.invalid("'\(param)' must be 1 to 64 letters, digits, _ or -", param: param)
        }
    }

    /// `tool_choice`: `none`, `auto` (the default), `required`, or `{"type": "function",
    /// "function": {"name": …}}` naming one of `tools`.
    private static func toolChoice(_ fields: JSONFields, tools: [ToolDefinition]) throws -> ToolChoice {
        switch fields.object["tool_choice"] {
        case nil, .some(.null), .some(.string("auto")): return .auto
        case .some(.string("none")): return .none
        case .some(.string("required")): return .required
        case .some(.string(let other)):
            throw OpenAIError.invalid(
                "'tool_choice' must be 'none', 'auto', 'required' or a function, got '\(other.prefix(40))'",
                param: "tool_choice")
        case .some(.object):
            let choice = try fields.object("tool_choice")!
            guard try choice.string("type") == "function", let function = try choice.object("function"),
                let name = try function.string("name")
            else {
                throw OpenAIError.invalid(
                    "'tool_choice' must be {\"type\": \"function\", \"function\": {\"name\": …}}", param: "tool_choice")
            }
            guard tools.contains(where: { $0.name == name }) else {
                throw OpenAIError.invalid(
                    "'tool_choice' names '\(name.prefix(64))', which is not among 'tools'", param: "tool_choice.function.name")
            }
            return .function(name)
        default:
            throw fields.wrongType("tool_choice", "a string or an object")
        }
    }

    /// An assistant message's `tool_calls`, as the markup its content carries (with each call's id).
    static func toolCallsMarkup(_ fields: JSONFields) throws -> String? {
        guard fields.present("tool_calls") else { return nil }
        guard case .array(let calls) = fields.object["tool_calls"] else {
            throw fields.wrongType("tool_calls", "an array")
        }
        var markup: [String] = []
        for (index, call) in calls.enumerated() {
            let param = "\(fields.prefix)tool_calls[\(index)]"
            guard case .object(let object) = call else {
                throw OpenAIError.invalid("'\(param)' must be an object", param: param, code: "invalid_type")
            }
            let callFields = JSONFields(object: object, prefix: param + ".")
            guard let id = try callFields.string("id"), !id.isEmpty, id.utf8.count <= 256 else {
                throw OpenAIError.invalid("'\(param).id' must be 1 to 256 characters", param: param + ".id")
            }
            if let type = try callFields.string("type"), type != "function" {
                throw OpenAIError(
                    .unprocessableContent, "'\(param).type' '\(type.prefix(40))' is not supported", param: param + ".type",
                    code: "unsupported_value")
            }
            guard let function = try callFields.object("function"), let name = try function.string("name") else {
                throw OpenAIError.invalid(
                    "'\(param).function.name' is required", param: param + ".function.name", code: "missing_required_parameter")
            }
            try checkName(name, param: param + ".function.name")
            let arguments = try function.string("arguments") ?? "{}"
            markup.append(ToolCallMarkup.text(of: ToolCall(id: id, name: name, arguments: arguments)))
        }
        return markup.isEmpty ? nil : markup.joined(separator: "\n")
    }
}
