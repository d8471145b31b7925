import Foundation

/// The body of `POST /v1/chat/completions` (OpenAI's fields plus Parley's `conversation_id` and
/// `store`). `stream` and `stream_options` are set by the call that sends it.
public struct ChatCompletionRequest: Hashable, Sendable {
    /// One message of the prompt.
    public struct Message: Hashable, Sendable, Codable {
        /// `system`, `user`, `assistant`, `tool` or `developer`.
        public var role: String
        public var content: String
        /// An assistant message's tool calls (sent back with the chat after running them).
        public var toolCalls: [ChatToolCall]?
        /// A `tool` message: the call whose result it is.
        public var toolCallID: String?

        public init(role: String, content: String, toolCalls: [ChatToolCall]? = nil, toolCallID: String? = nil) {
            self.role = role
            self.content = content
            self.toolCalls = toolCalls
            self.toolCallID = toolCallID
        }

        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
            case toolCallID = "tool_call_id"
        }

        /// A `tool` message: the result of the call `id`.
        public static func toolResult(_ content: String, callID: String) -> Message {
            Message(role: "tool", content: content, toolCallID: callID)
        }

        /// A `user` message.
        public static func user(_ content: String) -> Message { Message(role: "user", content: content) }
        /// A `system` message.
        public static func system(_ content: String) -> Message { Message(role: "system", content: content) }
    }

    public var model: String
    /// With ``conversationID``, only the new messages: the server supplies the stored history.
    public var messages: [Message]
    /// 0…2; `nil` leaves the server's default.
    public var temperature: Double?
    /// 0…1; `nil` leaves the server's default.
    public var topP: Double?
    /// Maximum tokens of the answer (sent as `max_completion_tokens`); `nil` leaves it to the model.
    public var maxTokens: Int?
    public var seed: Int64?
    public var stop: [String]?
    /// Continue this stored conversation.
    public var conversationID: String?
    /// With ``conversationID``: continue from this stored message instead of the visible branch's
    /// end (with no messages: a new answer to that question, beside the old one).
    public var parentMessageID: String?
    /// Store the exchange; `nil` leaves the server's default (true).
    public var store: Bool?
    /// Ask for a last chunk carrying token usage (streaming only). Default false.
    public var includeUsage: Bool
    /// Ask how likely the model found each token, with this many of the likeliest alternatives
    /// (0…20; OpenAI's `logprobs` and `top_logprobs`); `nil` (the default) asks for none.
    public var logprobs: Int?
    /// Functions the model may call; empty (the default) offers none.
    public var tools: [ChatTool] = []
    /// With ``tools``: whether and which one the answer calls; nil leaves the server's default (`auto`).
    public var toolChoice: ChatToolChoice?
    /// With ``tools``: whether one answer may call several; nil leaves the server's default (true).
    public var parallelToolCalls: Bool?

    public init(
        model: String, messages: [Message], temperature: Double? = nil, topP: Double? = nil, maxTokens: Int? = nil,
        seed: Int64? = nil, stop: [String]? = nil, conversationID: String? = nil, parentMessageID: String? = nil,
        store: Bool? = nil, includeUsage: Bool = false, logprobs: Int? = nil
    ) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.seed = seed
        self.stop = stop
        self.conversationID = conversationID
        self.parentMessageID = parentMessageID
        self.store = store
        self.includeUsage = includeUsage
        self.logprobs = logprobs
    }

    /// The JSON body's bytes: ``body(stream:)`` with the tools spliced in (their schemas travel as
    /// the JSON text they are).
    func bodyJSON(stream: Bool) throws -> [UInt8] {
        var json = Array(try JSONEncoder().encode(body(stream: stream)))
        guard !tools.isEmpty else { return json }
        var members = #","tools":["# + tools.map(\.json).joined(separator: ",") + "]"
        if let toolChoice { members += #","tool_choice":"# + toolChoice.json }
        if let parallelToolCalls { members += #","parallel_tool_calls":\#(parallelToolCalls)"# }
        // The encoder's object ends with its closing brace.
        json.removeLast()
        json.append(contentsOf: Array((members + "}").utf8))
        return json
    }

    /// The JSON body.
    func body(stream: Bool) -> Body {
        Body(
            model: model, messages: messages, stream: stream,
            streamOptions: stream && includeUsage ? .init(includeUsage: true) : nil, temperature: temperature,
            topP: topP, maxCompletionTokens: maxTokens, seed: seed, stop: stop, conversationID: conversationID,
            parentMessageID: parentMessageID, store: store, logprobs: logprobs.map { _ in true }, topLogprobs: logprobs)
    }

    struct Body: Encodable {
        struct StreamOptions: Encodable {
            var includeUsage: Bool
            enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
        }
        var model: String
        var messages: [Message]
        var stream: Bool
        var streamOptions: StreamOptions?
        var temperature: Double?
        var topP: Double?
        var maxCompletionTokens: Int?
        var seed: Int64?
        var stop: [String]?
        var conversationID: String?
        var parentMessageID: String?
        var store: Bool?
        var logprobs: Bool?
        var topLogprobs: Int?

        enum CodingKeys: String, CodingKey {
            case model, messages, stream, temperature, seed, stop, store, logprobs
            case topLogprobs = "top_logprobs"
            case streamOptions = "stream_options"
            case topP = "top_p"
            case maxCompletionTokens = "max_completion_tokens"
            case conversationID = "conversation_id"
            case parentMessageID = "parent_message_id"
        }
    }
}

/// Token counts of one completion.
public struct TokenCounts: Hashable, Sendable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}

/// A whole (non-streaming) answer.
public struct ChatCompletion: Hashable, Sendable {
    /// The request id (`chatcmpl-…`), also the `x-request-id` header.
    public var id: String
    public var model: String
    public var content: String
    /// `stop`, `length` or `cancelled`.
    public var finishReason: String?
    public var usage: TokenCounts?
    /// From `x-parley-conversation-id`, when the exchange was stored.
    public var conversationID: String?
    /// Each token's logprobs, when asked for (``ChatCompletionRequest/logprobs``).
    public var logprobs: [ChatTokenLogprob]? = nil
    /// The tools the answer calls (``ChatCompletionRequest/tools``); its ``content`` is then often empty.
    public var toolCalls: [ChatToolCall] = []
}

/// One model of `GET /v1/models`.
public struct ModelDescription: Hashable, Sendable, Codable {
    public var id: String
    /// `parley-<backend>`.
    public var ownedBy: String?

    enum CodingKeys: String, CodingKey {
        case id
        case ownedBy = "owned_by"
    }
}
