/// One message of a chat as the model sees it.
public struct ChatMessage: Hashable, Sendable, Codable {
    /// `system`, `user`, `assistant` (or `tool`).
    public var role: String
    /// The text; an assistant's tool calls are markup in it (see ``ToolOptions``).
    public var content: String
    /// For a `tool` message: the call whose result it is (`tool_call_id`), when known.
    public var toolCallID: String?

    public init(role: String, content: String, toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.toolCallID = toolCallID
    }
}

/// Sampling parameters of one generation. `nil` means the backend's default.
public struct SamplingOptions: Hashable, Sendable, Codable {
    /// 0 is greedy; OpenAI's range is 0...2.
    public var temperature: Double?
    public var topP: Double?
    /// Largest number of tokens to generate.
    public var maxTokens: Int?
    /// Same seed, same request → same answer (for backends that support it).
    public var seed: UInt64?
    /// Generation stops before any of these strings (at most 4).
    public var stop: [String]
    /// Subtracted from a token's logit once per time the answer already holds it (OpenAI's
    /// `frequency_penalty`, -2...2); nil or 0 is off.
    public var frequencyPenalty: Double?
    /// Subtracted from a token's logit when the answer already holds it at all (OpenAI's
    /// `presence_penalty`, -2...2); nil or 0 is off.
    public var presencePenalty: Double?
    /// Added to the logits of these token ids (OpenAI's `logit_bias`, -100...100); ids are the model's.
    public var logitBias: [Int: Double]
    /// Report how likely the model found each token of the answer, with this many of the likeliest
    /// alternatives (0...``TokenLogprob/maxTop``; OpenAI's `logprobs` with `top_logprobs`); nil reports nothing.
    public var logprobs: Int?
    /// What the answer must be (OpenAI's `response_format`). Default ``ResponseFormat/text``.
    public var responseFormat: ResponseFormat
    /// Keep only the `topK` likeliest tokens; 0 keeps all (`top_k`, as vLLM and llama.cpp take it).
    public var topK: Int?
    /// Drop tokens less likely than `minP` × the likeliest one (`min_p`); 0 is off.
    public var minP: Double?
    /// Divides positive logits (multiplies negative ones) of tokens seen recently, prompt included
    /// (`repetition_penalty`, as vLLM takes it); 1 is off.
    public var repetitionPenalty: Double?
    /// Tools the answer may call; nil: none offered.
    public var tools: ToolOptions?

    public init(
        temperature: Double? = nil, topP: Double? = nil, maxTokens: Int? = nil, seed: UInt64? = nil, stop: [String] = [],
        frequencyPenalty: Double? = nil, presencePenalty: Double? = nil, logitBias: [Int: Double] = [:],
        logprobs: Int? = nil, responseFormat: ResponseFormat = .text, topK: Int? = nil, minP: Double? = nil,
        repetitionPenalty: Double? = nil, tools: ToolOptions? = nil
    ) {
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.seed = seed
        self.stop = stop
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.logitBias = logitBias
        self.logprobs = logprobs
        self.responseFormat = responseFormat
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.tools = tools
    }
}

/// What an answer must be: OpenAI's `response_format` types that Parley can guarantee.
public enum ResponseFormat: Hashable, Sendable, Codable {
    /// Any text.
    case text
    /// One JSON object: the built-in engine chooses only tokens that continue it (JSON mode), an
    /// upstream server is asked for it, the synthetic model wraps its words in one.
    case jsonObject
    /// One JSON value of a schema (structured outputs): `name` as the client gave it, `schema` the
    /// schema's JSON text (checked by the gateway: ParleyStructuredOutput can compile it). The
    /// built-in engine chooses only tokens that continue such a value; an upstream is asked for it.
    case jsonSchema(name: String, schema: String)
}

/// Why a generation ended.
public enum FinishReason: String, Hashable, Sendable, Codable {
    /// An end-of-turn token or a stop string.
    case stop
    /// `maxTokens` reached.
    case length
    /// Cancelled by the user or because the client went away.
    case cancelled
}

/// Token counts of one generation.
public struct TokenUsage: Hashable, Sendable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens the model did not compute again because its cache held them (the earlier turns
    /// of the chat); OpenAI's `prompt_tokens_details.cached_tokens`.
    public var cachedPromptTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }

    public init(promptTokens: Int, completionTokens: Int, cachedPromptTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
    }
}

/// Where a resubmitted generation continues: the answer's first `tokenCount` tokens, whose text is
/// `text`, were already delivered upstream and must not be produced again.
public struct ResumePoint: Hashable, Sendable, Codable {
    public var tokenCount: Int
    public var text: String

    public init(tokenCount: Int, text: String) {
        self.tokenCount = tokenCount
        self.text = text
    }
}

/// A generation as the worker, proxy and model API nodes see it.
public struct ModelRequest: Hashable, Sendable, Codable {
    /// The user request's id (for logs, cancellation and affinity).
    public var requestID: String
    public var userID: String
    public var model: String
    /// The whole chat, history included, ending with the user's turn.
    public var messages: [ChatMessage]
    public var sampling: SamplingOptions
    public var priority: Priority
    /// Set when this is a resubmission after a node died mid-stream.
    public var resume: ResumePoint?
    /// The conversation, for routing the next turn to the endpoint that holds its KV cache.
    public var conversationID: String?
    /// How many of the leading `messages` are a stored conversation's history, loaded by the
    /// completion service rather than sent by the client. A backend whose context cannot hold the
    /// whole chat leaves the oldest of them out (`HistoryWindow`, ParleyModelAPI) instead of
    /// refusing the turn, so a long chat goes on; messages the client sent are never left out.
    public var historyCount: Int

    public init(
        requestID: String, userID: String, model: String, messages: [ChatMessage], sampling: SamplingOptions = .init(),
        priority: Priority = .interactive, resume: ResumePoint? = nil, conversationID: String? = nil,
        historyCount: Int = 0
    ) {
        self.requestID = requestID
        self.userID = userID
        self.model = model
        self.messages = messages
        self.sampling = sampling
        self.priority = priority
        self.resume = resume
        self.conversationID = conversationID
        self.historyCount = historyCount
    }
}

/// Scheduling class of a request: interactive requests are served before batch ones.
public enum Priority: String, Hashable, Sendable, Codable, Comparable {
    case interactive
    case batch

    public static func < (lhs: Priority, rhs: Priority) -> Bool {
        lhs == .interactive && rhs == .batch
    }
}

/// What a model stream carries, hop by hop from the model API to the completion service.
public enum GenerationEvent: Hashable, Sendable, Codable {
    /// The model has computed `computed` of the prompt's `of` tokens: sent while a long prompt is
    /// computed, before the first token, so the proxy can tell a working model from a hung one and
    /// the person waiting can see how far the model has read. Relayed up to the completion service
    /// only before the answer's first token (after a failover mid-answer the pause is just a pause).
    case prompt(computed: Int, of: Int)
    /// The answer's token at position `index` (0-based, counted from the start of the answer even
    /// after a resume), with its text (whole UTF-8 characters, possibly empty), and, when the request
    /// asked for them, how likely the model found the model tokens it covers (usually one; none for an
    /// end-of-turn token; an upstream server's chunk may hold several).
    case token(index: Int, text: String, logprobs: [TokenLogprob] = [])
    /// The end: why, and the token counts of the whole answer.
    case finished(FinishReason, TokenUsage)
}

/// A model some live model API node serves.
public struct ModelInfo: Hashable, Sendable, Codable {
    /// The name clients pass as `model`.
    public var id: String
    /// `builtin`, `upstream` or `synthetic`.
    public var backend: String
    /// Tokens the model's context holds (prompt and answer), when the backend knows it.
    public var contextLength: Int?
    /// Since when it is served, Unix seconds (OpenAI's `created`): when the endpoint started
    /// serving it; nil from a node that does not say.
    public var created: Int?

    public init(id: String, backend: String, contextLength: Int? = nil, created: Int? = nil) {
        self.id = id
        self.backend = backend
        self.contextLength = contextLength
        self.created = created
    }
}
