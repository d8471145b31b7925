/// A chat completion as the gateway hands it to the completion service.
public struct CompletionRequest: Hashable, Sendable, Codable {
    /// Unique per user request; also the resume handle of the stream (`x-request-id`).
    public var requestID: String
    public var userID: String
    public var model: String
    /// The messages of the HTTP request. With `conversationID`, the server prepends the stored
    /// history of the conversation's visible branch.
    public var messages: [ChatMessage]
    public var sampling: SamplingOptions
    public var priority: Priority
    /// Continue this stored conversation (`conversation_id`).
    public var conversationID: String?
    /// Persist the turn (`store`, default true).
    public var store: Bool
    /// Set by a gateway that resubmits after the completion node it used died mid-stream.
    public var resume: ResumePoint?
    /// With `conversationID`: continue from this stored message instead of the visible branch's
    /// leaf (`parent_message_id`). Edits and regenerations this way become sibling branches; with no
    /// messages the answer is a new reply to this message (regenerate).
    public var parentMessageID: String?
    /// With `conversationID`: the request's messages start a new branch at the root of the
    /// conversation, without its history (`"parent_message_id": null`: an edit of the first message).
    public var startsAtRoot: Bool = false
    /// The request id derives from the client's `Idempotency-Key`: a request id already started is
    /// refused with `duplicate_request` (nothing is run or stored again), and with no conversation
    /// store reachable the request is refused, since a repeat could then not be recognised.
    public var idempotent: Bool = false
    /// A system message the model sees first, before any stored history, that is not stored with
    /// the turn (the Responses API's `instructions`: each request gives its own).
    public var instructions: String?

    public init(
        requestID: String, userID: String, model: String, messages: [ChatMessage], sampling: SamplingOptions = .init(),
        priority: Priority = .interactive, conversationID: String? = nil, store: Bool = true, resume: ResumePoint? = nil,
        parentMessageID: String? = nil
    ) {
        self.requestID = requestID
        self.userID = userID
        self.model = model
        self.messages = messages
        self.sampling = sampling
        self.priority = priority
        self.conversationID = conversationID
        self.store = store
        self.resume = resume
        self.parentMessageID = parentMessageID
    }
}

/// What the completion service streams to the gateway.
public enum CompletionEvent: Hashable, Sendable, Codable {
    /// First event: where the turn is stored (nil ids when `store` is false) and the user's
    /// rate-limit standing after this request (nil for a resubmission, which is not counted again).
    case started(
        conversationID: String?, userMessageID: String?, assistantMessageID: String?, rateLimit: RateLimitDecision? = nil)
    /// The answer's token at position `index` with its text, and the logprobs of the model tokens
    /// it covers when the request asked for them (see ``GenerationEvent/token(index:text:logprobs:)``).
    case token(index: Int, text: String, logprobs: [TokenLogprob] = [])
    /// Last event.
    case finished(FinishReason, TokenUsage)
    /// Before the first token: the model has computed `computed` of the prompt's `of` tokens.
    case prompt(computed: Int, of: Int)
}

/// The answer of a rate-limit check.
public struct RateLimitDecision: Hashable, Sendable, Codable {
    public var allowed: Bool
    /// Requests allowed per window.
    public var limit: Int
    /// Requests left in the current window after this one.
    public var remaining: Int
    /// Seconds until the window has room again.
    public var resetSeconds: Double
    /// Why a refusal happened: a ``ServingError/RateLimitReason`` raw value (`requests`, `concurrency`, `tokens`).
    public var reason: String?

    public init(allowed: Bool, limit: Int, remaining: Int, resetSeconds: Double, reason: String? = nil) {
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.resetSeconds = resetSeconds
        self.reason = reason
    }
}
