import ParleyProtocol

/// A streamed chat completion as OpenAI's `chat.completion.chunk` events: a role chunk, one chunk
/// per token (event id = tokens delivered so far, which is also the generation log's sequence
/// number, so `Last-Event-ID` works on any gateway), the finish chunk, the usage chunk if asked,
/// `[DONE]`.
///
/// With tools, a token's text goes through ``AnswerToolCalls``, and only the last chunk of a token
/// carries its event id (a client that resumes after it has all of them).
struct ChatChunkRenderer: StreamRenderer {
    let json: ChatCompletionJSON
    private var calls: AnswerToolCalls?

    /// `offersTools`: the request offered tools, so calls in the answer's text go out as `tool_calls`.
    init(json: ChatCompletionJSON, requestID: String, offersTools: Bool) {
        self.json = json
        calls = offersTools ? AnswerToolCalls(requestID: requestID) : nil
    }

    func head() -> String { SSE.event(id: 0, data: json.roleChunk()) }

    mutating func text(for event: CompletionEvent) -> (text: String, ends: Bool)? {
        switch event {
        case .started:
            return nil
        case .prompt(let computed, let total):
            return (SSE.promptProgress(computed: computed, of: total), false)
        case .token(let index, let text, let logprobs):
            guard var answerCalls = calls else {
                return (SSE.event(id: Int64(index) + 1, data: json.contentChunk(text, logprobs: logprobs)), false)
            }
            defer { calls = answerCalls }
            return (SSE.events(answerCalls.chunks(text, logprobs: logprobs, json: json), lastID: Int64(index) + 1), false)
        case .finished(let reason, let usage):
            var tail = ""
            if var answerCalls = calls {
                tail = SSE.events(answerCalls.finish(json: json), lastID: nil)
                calls = answerCalls
            }
            let finish = AnswerToolCalls.finishReason(
                ChatCompletionJSON.finishReason(reason), callCount: calls?.callCount ?? 0)
            tail += SSE.event(id: nil, data: json.finishChunk(finish))
            if json.includeUsage { tail += SSE.event(id: nil, data: json.usageChunk(usage)) }
            return (tail + SSE.done, true)
        }
    }

    func failure(_ error: OpenAIError) -> String {
        SSE.event(id: nil, data: String(decoding: error.body, as: UTF8.self))
    }
}
