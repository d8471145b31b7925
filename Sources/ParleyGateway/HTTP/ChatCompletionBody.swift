import HTTPTypes
import ParleyJSON
import ParleyProtocol
import ParleyStructuredOutput

/// A validated `POST /v1/chat/completions` body.
struct ChatCompletionBody: Equatable {
    var model: String
    var messages: [ChatMessage]
    var stream: Bool
    var includeUsage: Bool
    var sampling: SamplingOptions
    var conversationID: String?
    /// `parent_message_id`: continue from this message of the conversation (edit, regenerate).
    var parentMessageID: String?
    /// `"parent_message_id": null` with a conversation: a new root branch (an edited first message).
    var startsAtRoot = false
    var store: Bool

    static let roles: Set<String> = ["system", "user", "assistant", "tool", "developer"]

    /// Checks every field; 400 for wrong types and values, 422 for valid requests Parley cannot do.
    init(json bytes: some Collection<UInt8>, limits: GatewayConfiguration.Limits) throws {
        let fields = JSONFields(object: try JSONValue.object(from: bytes))

        model = try Self.model(fields)
        guard fields.present("messages") else {
            throw OpenAIError.invalid("'messages' is required", param: "messages", code: "missing_required_parameter")
        }
        guard case .array(let rawMessages) = fields.object["messages"] else {
            throw fields.wrongType("messages", "an array")
        }
        // Regenerating (a parent message and nothing new) is the one case without messages.
        let regenerates = fields.present("parent_message_id") && fields.present("conversation_id")
        guard !rawMessages.isEmpty || regenerates else {
            throw OpenAIError.invalid("'messages' must not be empty", param: "messages")
        }
        guard rawMessages.count <= limits.maxMessages else {
            throw OpenAIError.invalid("'messages' has more than \(limits.maxMessages) items", param: "messages")
        }
        messages = try rawMessages.enumerated().map { index, value in try Self.message(value, index: index) }

        stream = try fields.bool("stream") ?? false
        let streamOptions = try fields.object("stream_options")
        includeUsage = try streamOptions?.bool("include_usage") ?? false
        if streamOptions != nil, !stream {
            throw OpenAIError.invalid("'stream_options' is only allowed with 'stream': true", param: "stream_options")
        }

        var sampling = SamplingOptions()
        sampling.temperature = try fields.number("temperature", in: 0...2)
        sampling.topP = try fields.number("top_p", in: 0...1)
        let maxTokens = try fields.integer("max_completion_tokens", in: 1...limits.maxTokens)
        sampling.maxTokens = try maxTokens ?? fields.integer("max_tokens", in: 1...limits.maxTokens)
        if let seed = try fields.integer("seed", in: Int(Int64.min / 2)...Int(Int64.max / 2)) {
            sampling.seed = UInt64(bitPattern: Int64(seed))
        }
        sampling.stop = try Self.stop(fields)
        sampling.frequencyPenalty = try fields.number("frequency_penalty", in: -2...2)
        sampling.presencePenalty = try fields.number("presence_penalty", in: -2...2)
        sampling.logitBias = try Self.logitBias(fields)
        sampling.logprobs = try Self.logprobs(fields)
        sampling.responseFormat = try Self.responseFormat(fields)
        // Extensions that vLLM and llama.cpp's server take (top_k -1 is vLLM's "off").
        if let topK = try fields.integer("top_k", in: -1...1_000_000) { sampling.topK = max(0, topK) }
        sampling.minP = try fields.number("min_p", in: 0...1)
        sampling.repetitionPenalty = try fields.number("repetition_penalty", in: 0.01...10)
        _ = try fields.string("user")

        if let n = try fields.integer("n", in: 1...128), n != 1 {
            throw OpenAIError(.unprocessableContent, "only n = 1 is supported", param: "n", code: "unsupported_value")
        }
        sampling.tools = try Self.tools(fields)
        for unsupported in ["audio"] where fields.present(unsupported) {
            throw OpenAIError(
                .unprocessableContent, "'\(unsupported)' is not supported", param: unsupported, code: "unsupported_parameter")
        }
        self.sampling = sampling

        conversationID = try fields.string("conversation_id")
        if let conversationID, conversationID.isEmpty || conversationID.utf8.count > 128 {
            throw OpenAIError.invalid("'conversation_id' must be 1 to 128 characters", param: "conversation_id")
        }
        parentMessageID = try fields.string("parent_message_id")
        if case .some(.null) = fields.object["parent_message_id"] {
            guard conversationID != nil, !rawMessages.isEmpty else {
                throw OpenAIError.invalid(
                    "'parent_message_id': null starts a new branch of a conversation: it needs 'conversation_id' and messages",
                    param: "parent_message_id")
            }
            startsAtRoot = true
        }
        if let parentMessageID {
            guard !parentMessageID.isEmpty, parentMessageID.utf8.count <= 128 else {
                throw OpenAIError.invalid("'parent_message_id' must be 1 to 128 characters", param: "parent_message_id")
            }
            guard conversationID != nil else {
                throw OpenAIError.invalid("'parent_message_id' needs 'conversation_id'", param: "parent_message_id")
            }
        }
        store = try fields.bool("store") ?? true
        if conversationID != nil, !store {
            throw OpenAIError(
                .unprocessableContent, "'conversation_id' needs 'store': true", param: "store", code: "conflicting_parameters")
        }
    }

    /// `model`: required, 1 to 256 characters.
    static func model(_ fields: JSONFields) throws -> String {
        guard let model = try fields.string("model") else {
            throw OpenAIError.invalid("'model' is required", param: "model", code: "missing_required_parameter")
        }
        guard !model.isEmpty, model.utf8.count <= 256 else {
            throw OpenAIError.invalid("'model' must be 1 to 256 characters", param: "model")
        }
        return model
    }

    /// `logprobs` (a boolean) and `top_logprobs` (0 to 20, only with `logprobs: true`), as
    /// ``SamplingOptions/logprobs``: nil when not asked for, else the number of alternatives.
    static func logprobs(_ fields: JSONFields) throws -> Int? {
        let asked = try fields.bool("logprobs") ?? false
        let top = try fields.integer("top_logprobs", in: 0...TokenLogprob.maxTop)
        if top != nil, !asked {
            throw OpenAIError.invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs")
        }
        return asked ? top ?? 0 : nil
    }

    /// `response_format`: `text`, `json_object`, or `json_schema` with a schema that
    /// ParleyStructuredOutput can enforce: one it cannot (a keyword it does not know) is refused
    /// with 422 rather than ignored, since the answer could break what the schema promises.
    static func responseFormat(_ fields: JSONFields) throws -> ResponseFormat {
        guard let format = try fields.object("response_format") else { return .text }
        return try outputFormat(format, param: "response_format") { try format.object("json_schema") }
    }

    /// An answer's format (`format`, at `param`): its `type`, and for `json_schema` the object
    /// `described` gives (Chat Completions nests it in `json_schema`; the Responses API's
    /// `text.format` is that object itself) with `name`, `schema` and `strict`.
    static func outputFormat(_ format: JSONFields, param: String, described: () throws -> JSONFields?) throws
        -> ResponseFormat
    {
        switch try format.string("type") {
        case "text": return .text
        case "json_object": return .jsonObject
        case "json_schema":
            guard let described = try described() else {
                throw OpenAIError.invalid(
                    "'\(param).json_schema' is required", param: param + ".json_schema", code: "missing_required_parameter")
            }
            let name = try described.string("name") ?? "response"
            try checkName(name, param: described.prefix + "name")
            _ = try described.bool("strict")
            _ = try described.string("description")
            // No schema: any object, as OpenAI reads it.
            let schema = described.object["schema"] ?? .object(["type": .string("object")])
            do {
                _ = try OutputSchema.compile(schema)
            } catch {
                throw OpenAIError(
                    .unprocessableContent, "'\(described.prefix)schema': \(error.message)",
                    param: described.prefix + "schema", code: "unsupported_value")
            }
            return .jsonSchema(name: name, schema: schema.jsonText)
        case nil:
            throw OpenAIError.invalid("'\(param).type' is required", param: param + ".type", code: "missing_required_parameter")
        case let other?:
            throw OpenAIError(
                .unprocessableContent,
                "'\(param)' type '\(other.prefix(40))' is not supported; use 'text', 'json_object' or 'json_schema'",
                param: param, code: "unsupported_value")
        }
    }

    static func message(_ value: JSONValue, index: Int) throws -> ChatMessage {
        guard case .object(let object) = value else {
            throw OpenAIError.invalid("'messages[\(index)]' must be an object", param: "messages[\(index)]", code: "invalid_type")
        }
        let fields = JSONFields(object: object, prefix: "messages[\(index)].")
        guard let role = try fields.string("role") else {
            throw OpenAIError.invalid(
                "'messages[\(index)].role' is required", param: "messages[\(index)].role", code: "missing_required_parameter")
        }
        guard roles.contains(role) else {
            throw OpenAIError.invalid(
                "'messages[\(index)].role' must be one of system, user, assistant, tool, developer; got '\(role.prefix(40))'",
                param: "messages[\(index)].role")
        }
        var content: String
        let calls = role == "assistant" ? try Self.toolCallsMarkup(fields) : nil
        switch object["content"] {
        case .string(let text):
            content = text
        case .array(let parts):
            // Content parts: only text parts are understood.
            content = try parts.enumerated().map { partIndex, part -> String in
                let param = "messages[\(index)].content[\(partIndex)]"
                guard case .object(let partObject) = part, case .string("text") = partObject["type"],
                    case .string(let text) = partObject["text"]
                else {
                    throw OpenAIError(.unprocessableContent, "only text content parts are supported", param: param, code: "unsupported_value")
                }
                return text
            }.joined()
        case .none where calls != nil, .some(.null) where calls != nil:
            content = ""
        case .none, .some(.null):
            throw OpenAIError.invalid(
                "'messages[\(index)].content' is required", param: "messages[\(index)].content",
                code: "missing_required_parameter")
        default:
            throw fields.wrongType("content", "a string")
        }
        if let calls { content += content.isEmpty ? calls : "\n" + calls }
        var toolCallID: String?
        if role == "tool" {
            guard let id = try fields.string("tool_call_id"), !id.isEmpty, id.utf8.count <= 256 else {
                throw OpenAIError.invalid(
                    "'messages[\(index)].tool_call_id' is required for a tool message (1 to 256 characters)",
                    param: "messages[\(index)].tool_call_id", code: "missing_required_parameter")
            }
            toolCallID = id
        }
        return ChatMessage(role: role == "developer" ? "system" : role, content: content, toolCallID: toolCallID)
    }

    /// Most entries `logit_bias` may have (OpenAI documents none; a chat client sends a handful).
    static let maxLogitBiasEntries = 1_024

    /// `logit_bias`: token ids (as the object's keys, decimal) to biases in -100...100. Whether an id
    /// is in the model's vocabulary only the model knows; it refuses one that is not.
    static func logitBias(_ fields: JSONFields) throws -> [Int: Double] {
        guard let bias = try fields.object("logit_bias") else { return [:] }
        guard bias.object.count <= maxLogitBiasEntries else {
            throw OpenAIError.invalid("'logit_bias' allows at most \(maxLogitBiasEntries) entries", param: "logit_bias")
        }
        var result: [Int: Double] = [:]
        for key in bias.object.keys {
            guard let token = Int(key), token >= 0, token <= Int(Int32.max), String(token) == key else {
                throw OpenAIError.invalid(
                    "'logit_bias' keys must be token ids (non-negative integers), got '\(key.prefix(40))'", param: "logit_bias")
            }
            result[token] = try bias.number(key, in: -100...100)
        }
        return result
    }

    static func stop(_ fields: JSONFields) throws -> [String] {
        guard fields.present("stop") else { return [] }
        switch fields.object["stop"] {
        case .string(let value):
            guard !value.isEmpty else { throw OpenAIError.invalid("'stop' strings must not be empty", param: "stop") }
            return [value]
        case .array(let values):
            guard values.count <= 4 else { throw OpenAIError.invalid("'stop' allows at most 4 strings", param: "stop") }
            return try values.map {
                guard case .string(let value) = $0, !value.isEmpty, value.utf8.count <= 256 else {
                    throw OpenAIError.invalid("'stop' must hold non-empty strings of at most 256 bytes", param: "stop")
                }
                return value
            }
        default:
            throw fields.wrongType("stop", "a string or an array of strings")
        }
    }
}
