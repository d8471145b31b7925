/// What a streamed completion yields, in order: maybe ``promptProgress(computed:of:)`` while the
/// model reads a long prompt, ``content(_:eventID:)`` per token, maybe ``resumed(_:)`` between them,
/// then ``finished(reason:)``, ``usage(_:)`` if asked, and ``end(_:)`` last (the server's `[DONE]`).
public enum ChatStreamEvent: Hashable, Sendable {
    /// Before the first token: the model has read `computed` of the prompt's `of` tokens (the
    /// gateway's `: prompt N/M` comments).
    case promptProgress(computed: Int, of: Int)
    /// A piece of the answer; `eventID` is the SSE id (n for the n-th token), if the server sent one.
    case content(String, eventID: Int64?)
    /// Right after the piece of its chunk (when ``ChatCompletionRequest/logprobs`` asked for them):
    /// how likely the model found the tokens of that piece.
    case logprobs([ChatTokenLogprob])
    /// A piece of a tool call (when ``ChatCompletionRequest/tools`` were offered): its id and name
    /// first, then its arguments' text piece by piece.
    case toolCall(ChatToolCallDelta)
    /// The connection broke and the stream continues through the resume endpoint.
    case resumed(ChatStreamResume)
    /// `finish_reason`: `stop`, `length`, `cancelled`, `interrupted`.
    case finished(reason: String)
    /// Token counts (with ``ChatCompletionRequest/includeUsage``).
    case usage(TokenCounts)
    /// `data: [DONE]` arrived; the numbers of the whole stream.
    case end(ChatStreamSummary)
}

/// A resume that succeeded.
public struct ChatStreamResume: Hashable, Sendable {
    /// The gateway that now serves the stream.
    public var gatewayURL: String
    /// The `Last-Event-ID` sent (`nil`: none had arrived yet).
    public var lastEventID: Int64?
    /// Attempts it took since the break (1 = the first try worked).
    public var attempt: Int
}

/// The numbers of a whole stream, for tools that check exactness.
public struct ChatStreamSummary: Hashable, Sendable {
    /// Events with an id handed over (role chunk included).
    public var eventsWithID: Int
    /// The highest event id, the number of tokens when the stream is whole.
    public var lastEventID: Int64?
    /// Successful resumes.
    public var resumes: Int
    /// Events the server sent twice (dropped, never handed over).
    public var duplicatesDropped: Int
    /// Event ids the server skipped (tokens lost).
    public var missingEvents: Int
    public var finishReason: String?
}
