import HTTPTypes
import ParleyJSON
import ParleyProtocol
import ParleyStructuredOutput
import ParleyToolCalls

extension ChatCompletionBody {
    /// Most tools one request may offer (OpenAI's limit).
    static let maxTools = 128

    /// How an API writes a function tool: Chat Completions nests it (`{"type": "function",
    /// "function": {"name", …}}`, strict unless said: no), the Responses API does not (`{"type":
    /// "function", "name", …}`, strict unless said: yes). Tool choices name functions the same ways.
    enum ToolForm {
        case chat
        case responses

        /// The object holding a tool's (or a tool choice's) name and schema.
        func function(of fields: JSONFields) throws -> JSONFields? {
            switch self {
            case .chat: return try fields.object("function")
            case .responses: return fields
            }
        }

        var strictByDefault: Bool { self == .responses }
    }

    /// `tools`, `tool_choice` and `parallel_tool_calls`; nil when no tools are offered. A tool's
    /// name is 1 to 64 letters, digits, `_` or `-`, unique; its `parameters` a JSON schema object;
    /// with `strict: true` the schema must be one ParleyStructuredOutput can enforce (422 otherwise).
    static func tools(_ fields: JSONFields, form: ToolForm = .chat) throws -> ToolOptions? {
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
        guard entries.count <= maxTools else {
            throw OpenAIError.invalid("'tools' must hold at most \(maxTools) tools", param: "tools")
        }
        // An empty list offers nothing (the Responses API's clients send `[]`; Chat Completions refuses it).
        if entries.isEmpty {
            guard form == .responses else { throw OpenAIError.invalid("'tools' must hold 1 to \(maxTools) tools", param: "tools") }
            // A named function is not among no tools (400); `required` cannot be met.
            if case .required = try toolChoice(fields, tools: [], form: form) {
                throw OpenAIError.invalid("'tool_choice' requires a call, but 'tools' is empty", param: "tool_choice")
            }
            return nil
        }
        var tools: [ToolDefinition] = []
        for (index, entry) in entries.enumerated() {
            let tool = try self.tool(entry, param: "tools[\(index)]", form: form)
            guard !tools.contains(where: { $0.name == tool.name }) else {
                let param = form == .chat ? "tools[\(index)].function.name" : "tools[\(index)].name"
                throw OpenAIError.invalid("'\(param)' '\(tool.name)' is given twice", param: param)
            }
            tools.append(tool)
        }
        let parallel = try fields.bool("parallel_tool_calls") ?? true
        return ToolOptions(tools: tools, choice: try toolChoice(fields, tools: tools, form: form), parallelCalls: parallel)
    }

    private static func tool(_ entry: JSONValue, param: String, form: ToolForm) throws -> ToolDefinition {
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
        guard let function = try form.function(of: fields) else {
            throw OpenAIError.invalid(
                "'\(param).function' is required", param: param + ".function", code: "missing_required_parameter")
        }
        guard let name = try function.string("name") else {
            throw OpenAIError.invalid(
                "'\(function.prefix)name' is required", param: function.prefix + "name", code: "missing_required_parameter")
        }
        try checkName(name, param: function.prefix + "name")
        let description = try function.string("description")
        let strict = try function.bool("strict") ?? form.strictByDefault
        var parameters: String?
        if let schema = try function.object("parameters") {
            let value = JSONValue.object(schema.object)
            if strict {
                do {
                    _ = try OutputSchema.compile(value)
                } catch {
                    throw OpenAIError(
                        .unprocessableContent, "'\(function.prefix)parameters': \(error.message)",
                        param: function.prefix + "parameters", code: "unsupported_value")
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

    /// `tool_choice`: `none`, `auto` (the default), `required`, or one of `tools` by name
    /// (`{"type": "function", "function": {"name": …}}`; in the Responses API's form
    /// `{"type": "function", "name": …}`).
    private static func toolChoice(_ fields: JSONFields, tools: [ToolDefinition], form: ToolForm) throws -> ToolChoice {
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
            guard try choice.string("type") == "function", let function = try form.function(of: choice),
                let name = try function.string("name")
            else {
                let shape = form == .chat ? #"{"type": "function", "function": {"name": …}}"# : #"{"type": "function", "name": …}"#
                throw OpenAIError.invalid("'tool_choice' must be \(shape)", param: "tool_choice")
            }
            guard tools.contains(where: { $0.name == name }) else {
                throw OpenAIError.invalid(
                    "'tool_choice' names '\(name.prefix(64))', which is not among 'tools'", param: function.prefix + "name")
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
