import HTTPTypes
import ParleyJSON
import ParleyProtocol
import ParleyToolCalls

/// A validated `POST /v1/responses` body (OpenAI's Responses API), as the chat it asks for.
///
/// `input` is a string (one user message) or a list of items: messages (roles `user`,
/// `assistant`, `system`, `developer`; text content), `function_call`s (calls the model made,
/// sent back: they join the assistant message before them) and `function_call_output`s (tool
/// results). `instructions` go to the model first and are not stored; `previous_response_id`
/// continues the conversation branch a stored response ended, `conversation` a conversation's
/// visible branch.
struct ResponsesBody {
    var model: String
    var messages: [ChatMessage]
    var sampling: SamplingOptions
    var stream: Bool
    /// What the response object repeats (instructions, tools, format, metadata, …).
    var settings: ResponseSettings
    /// The stored answer `previous_response_id` names.
    var previous: (conversationID: String, messageID: String)?

    /// Most `metadata` entries (OpenAI's limit; keys up to 64 characters, values up to 512).
    static let maxMetadata = 16

    /// Checks every field; 400 for wrong types and values, 422 for valid requests Parley cannot do.
    init(json bytes: some Collection<UInt8>, limits: GatewayConfiguration.Limits) throws {
        let fields = JSONFields(object: try JSONValue.object(from: bytes))
        model = try ChatCompletionBody.model(fields)
        messages = try Self.input(fields, limits: limits)
        stream = try fields.bool("stream") ?? false
        if let options = try fields.object("stream_options") {
            guard stream else {
                throw OpenAIError.invalid("'stream_options' is only allowed with 'stream': true", param: "stream_options")
            }
            _ = try options.bool("include_obfuscation")
        }
        var settings = ResponseSettings()
        sampling = try Self.sampling(fields, limits: limits, settings: &settings)
        try Self.describe(fields, in: &settings)
        try Self.refuseUnsupported(fields)
        previous = try Self.continuation(fields, in: &settings)
        self.settings = settings
    }

    /// How the answer is sampled and shaped: temperature, top_p, max_output_tokens, logprobs,
    /// tools, text.format (repeated in `settings`).
    private static func sampling(_ fields: JSONFields, limits: GatewayConfiguration.Limits, settings: inout ResponseSettings)
        throws -> SamplingOptions
    {
        var sampling = SamplingOptions()
        sampling.temperature = try fields.number("temperature", in: 0...2)
        sampling.topP = try fields.number("top_p", in: 0...1)
        sampling.maxTokens = try fields.integer("max_output_tokens", in: 1...limits.maxTokens)
        (settings.temperature, settings.topP, settings.maxOutputTokens) = (sampling.temperature, sampling.topP, sampling.maxTokens)
        settings.includeLogprobs = try includesLogprobs(fields)
        let topLogprobs = try fields.integer("top_logprobs", in: 0...TokenLogprob.maxTop)
        if topLogprobs != nil { settings.includeLogprobs = true }
        sampling.logprobs = settings.includeLogprobs ? topLogprobs ?? 0 : nil
        sampling.tools = try ChatCompletionBody.tools(fields, form: .responses)
        settings.tools = sampling.tools
        if let text = try fields.object("text") {
            if let format = try text.object("format") {
                sampling.responseFormat = try ChatCompletionBody.outputFormat(format, param: "text.format") { format }
            }
            if let verbosity = try text.string("verbosity"), !["low", "medium", "high"].contains(verbosity) {
                throw OpenAIError.invalid("'text.verbosity' must be 'low', 'medium' or 'high'", param: "text.verbosity")
            }
        }
        settings.format = sampling.responseFormat
        return sampling
    }

    /// What only goes into the response object: instructions, truncation, user, metadata (and the
    /// fields checked and ignored).
    private static func describe(_ fields: JSONFields, in settings: inout ResponseSettings) throws {
        settings.instructions = try fields.string("instructions")
        if let instructions = settings.instructions, instructions.utf8.count > ConversationLimits.maxContentBytes {
            throw OpenAIError.invalid("'instructions' is longer than 1 MiB", param: "instructions")
        }
        switch try fields.string("truncation") {
        case nil, "disabled": settings.truncation = "disabled"
        case "auto": settings.truncation = "auto"
        case let other?:
            throw OpenAIError.invalid("'truncation' must be 'auto' or 'disabled', got '\(other.prefix(40))'", param: "truncation")
        }
        settings.user = try fields.string("user")
        for ignored in ["safety_identifier", "prompt_cache_key", "service_tier"] { _ = try fields.string(ignored) }
        settings.metadata = try metadata(fields)
    }

    /// `store`, and what the turn continues: `previous_response_id` (the stored answer it names)
    /// or `conversation`, not both. Without `store` the new turn is not kept, but still sees the
    /// history it continues.
    private static func continuation(_ fields: JSONFields, in settings: inout ResponseSettings) throws
        -> (conversationID: String, messageID: String)?
    {
        settings.store = try fields.bool("store") ?? true
        settings.conversationID = try conversation(fields)
        guard let previousID = try fields.string("previous_response_id") else { return nil }
        guard settings.conversationID == nil else {
            throw OpenAIError.invalid(
                "'previous_response_id' and 'conversation' cannot both be given", param: "previous_response_id",
                code: "conflicting_parameters")
        }
        guard let location = ResponseIDs.location(of: previousID), let conversationID = location.conversationID,
            let messageID = location.messageID
        else { throw previousNotFound(previousID) }
        settings.previousResponseID = previousID
        return (conversationID, messageID)
    }

    /// `previous_response_id` names no stored response of the caller.
    static func previousNotFound(_ id: String) -> OpenAIError {
        OpenAIError.invalid(
            "previous response with id '\(id.prefix(80))' not found", param: "previous_response_id",
            code: "previous_response_not_found")
    }

    /// Fields the Responses API has that Parley cannot honour: refused rather than ignored.
    private static func refuseUnsupported(_ fields: JSONFields) throws {
        if try fields.bool("background") == true {
            throw unsupported("background", "background responses are not supported; stream, or wait for the answer")
        }
        if let reasoning = try fields.object("reasoning"), reasoning.present("effort") || reasoning.present("summary") {
            throw unsupported("reasoning", "'reasoning' is not supported: the models Parley serves do not reason apart")
        }
        for name in ["max_tool_calls", "prompt", "audio", "modalities"] where fields.present(name) {
            throw unsupported(name, "'\(name)' is not supported")
        }
    }

    private static func unsupported(_ param: String, _ message: String) -> OpenAIError {
        OpenAIError(.unprocessableContent, message, param: param, code: "unsupported_parameter")
    }

    /// `include`: only `message.output_text.logprobs` is offered.
    private static func includesLogprobs(_ fields: JSONFields) throws -> Bool {
        guard fields.present("include") else { return false }
        guard case .array(let entries) = fields.object["include"] else { throw fields.wrongType("include", "an array") }
        var logprobs = false
        for (index, entry) in entries.enumerated() {
            guard case .string(let name) = entry else {
                throw OpenAIError.invalid("'include[\(index)]' must be a string", param: "include[\(index)]", code: "invalid_type")
            }
            guard name == "message.output_text.logprobs" else {
                throw OpenAIError(
                    .unprocessableContent, "'include' value '\(name.prefix(60))' is not supported",
                    param: "include[\(index)]", code: "unsupported_value")
            }
            logprobs = true
        }
        return logprobs
    }

    /// `metadata`: at most 16 string values, keys up to 64 characters, values up to 512.
    private static func metadata(_ fields: JSONFields) throws -> [String: String] {
        guard let object = try fields.object("metadata") else { return [:] }
        guard object.object.count <= maxMetadata else {
            throw OpenAIError.invalid("'metadata' allows at most \(maxMetadata) entries", param: "metadata")
        }
        var metadata: [String: String] = [:]
        for key in object.object.keys {
            guard key.count <= 64, let value = try object.string(key), value.count <= 512 else {
                throw OpenAIError.invalid(
                    "'metadata' keys must be at most 64 characters and values strings of at most 512", param: "metadata")
            }
            metadata[key] = value
        }
        return metadata
    }

    /// `conversation`: a conversation id, or `{"id": …}`.
    private static func conversation(_ fields: JSONFields) throws -> String? {
        let id: String?
        switch fields.object["conversation"] {
        case nil, .some(.null): return nil
        case .some(.string(let text)): id = text
        case .some(.object): id = try fields.object("conversation")!.string("id")
        default: throw fields.wrongType("conversation", "a string or an object")
        }
        guard let id, !id.isEmpty, id.utf8.count <= 128 else {
            throw OpenAIError.invalid("'conversation' must name a conversation id of 1 to 128 characters", param: "conversation")
        }
        return id
    }

    // MARK: Input

    /// `input` as chat messages.
    private static func input(_ fields: JSONFields, limits: GatewayConfiguration.Limits) throws -> [ChatMessage] {
        switch fields.object["input"] {
        case .some(.string(let text)):
            return [ChatMessage(role: "user", content: text)]
        case .some(.array(let items)):
            guard !items.isEmpty else { throw OpenAIError.invalid("'input' must not be empty", param: "input") }
            guard items.count <= limits.maxMessages else {
                throw OpenAIError.invalid("'input' has more than \(limits.maxMessages) items", param: "input")
            }
            var messages: [ChatMessage] = []
            for (index, item) in items.enumerated() { try append(item, index: index, to: &messages) }
            return messages
        case nil, .some(.null):
            throw OpenAIError.invalid("'input' is required", param: "input", code: "missing_required_parameter")
        default:
            throw fields.wrongType("input", "a string or an array of items")
        }
    }

    private static func append(_ item: JSONValue, index: Int, to messages: inout [ChatMessage]) throws {
        let param = "input[\(index)]"
        guard case .object(let object) = item else {
            throw OpenAIError.invalid("'\(param)' must be an object", param: param, code: "invalid_type")
        }
        let fields = JSONFields(object: object, prefix: param + ".")
        switch try fields.string("type") ?? "message" {
        case "message":
            messages.append(try message(fields, param: param))
        case "function_call":
            let callID = try callID(fields, param: param)
            guard let name = try fields.string("name") else {
                throw OpenAIError.invalid("'\(param).name' is required", param: param + ".name", code: "missing_required_parameter")
            }
            try ChatCompletionBody.checkName(name, param: param + ".name")
            let arguments = try fields.string("arguments") ?? "{}"
            let markup = ToolCallMarkup.text(of: ToolCall(id: callID, name: name, arguments: arguments))
            // Calls join the assistant message they follow, as one turn of the chat.
            if let last = messages.last, last.role == "assistant" {
                messages[messages.count - 1].content += last.content.isEmpty ? markup : "\n" + markup
            } else {
                messages.append(ChatMessage(role: "assistant", content: markup))
            }
        case "function_call_output":
            let callID = try callID(fields, param: param)
            let output = try text(of: fields, key: "output", param: param + ".output")
            messages.append(ChatMessage(role: "tool", content: output, toolCallID: callID))
        case let other:
            throw OpenAIError(
                .unprocessableContent,
                "'\(param).type' '\(other.prefix(40))' is not supported; use 'message', 'function_call' or 'function_call_output'",
                param: param + ".type", code: "unsupported_value")
        }
    }

    /// An item's `call_id`: 1 to 256 characters.
    private static func callID(_ fields: JSONFields, param: String) throws -> String {
        guard let callID = try fields.string("call_id"), !callID.isEmpty, callID.utf8.count <= 256 else {
            throw OpenAIError.invalid("'\(param).call_id' must be 1 to 256 characters", param: param + ".call_id")
        }
        return callID
    }

    private static func message(_ fields: JSONFields, param: String) throws -> ChatMessage {
        guard let role = try fields.string("role") else {
            throw OpenAIError.invalid("'\(param).role' is required", param: param + ".role", code: "missing_required_parameter")
        }
        guard ["user", "assistant", "system", "developer"].contains(role) else {
            throw OpenAIError.invalid(
                "'\(param).role' must be one of user, assistant, system, developer; got '\(role.prefix(40))'",
                param: param + ".role")
        }
        let content = try text(of: fields, key: "content", param: param + ".content")
        return ChatMessage(role: role == "developer" ? "system" : role, content: content)
    }

    /// A string, or content parts of which only text ones (`input_text`, `output_text`, `text`) are understood.
    private static func text(of fields: JSONFields, key: String, param: String) throws -> String {
        switch fields.object[key] {
        case .some(.string(let text)):
            return text
        case .some(.array(let parts)):
            return try parts.enumerated().map { partIndex, part -> String in
                guard case .object(let object) = part, case .string(let type) = object["type"],
                    ["input_text", "output_text", "text"].contains(type), case .string(let text) = object["text"]
                else {
                    throw OpenAIError(
                        .unprocessableContent, "only text content parts are supported", param: "\(param)[\(partIndex)]",
                        code: "unsupported_value")
                }
                return text
            }.joined()
        case nil, .some(.null):
            throw OpenAIError.invalid("'\(param)' is required", param: param, code: "missing_required_parameter")
        default:
            throw fields.wrongType(key, "a string or an array of content parts")
        }
    }
}
