import Crypto
import ParleyProtocol
import ParleyToolCalls

/// The tool calls of one answer, read out of its text as it streams (``ToolCallExtractor``) and
/// written as OpenAI's `tool_calls` deltas: a call's first chunk names it (with its id) as soon as
/// the model has written its name, and its arguments follow in the chunks after, as they come.
/// Content the answer says around its calls goes out as content.
///
/// A call's id derives from the request id and the call's place in the answer, so an answer read
/// again (a resumed stream, a repeated Idempotency-Key) names its calls as the first reading did.
struct AnswerToolCalls {
    let requestID: String
    private var extractor = ToolCallExtractor()

    init(requestID: String) {
        self.requestID = requestID
    }

    /// Calls begun so far.
    var callCount: Int { extractor.callCount }

    /// The chunks (SSE data) of the next piece of the answer, at least one; `logprobs` go with its
    /// first content.
    mutating func chunks(_ text: String, logprobs: [TokenLogprob], json: ChatCompletionJSON) -> [String] {
        let before = extractor.callCount
        return chunks(of: extractor.read(text), callsBefore: before, logprobs: logprobs, json: json)
    }

    /// The chunks of what was held back at the answer's end (none when nothing was).
    mutating func finish(json: ChatCompletionJSON) -> [String] {
        let before = extractor.callCount
        let parts = extractor.finish()
        return parts.isEmpty ? [] : chunks(of: parts, callsBefore: before, logprobs: [], json: json)
    }

    private func chunks(
        of parts: [ToolCallExtractor.Part], callsBefore: Int, logprobs: [TokenLogprob], json: ChatCompletionJSON
    ) -> [String] {
        var logprobs = logprobs
        var chunks: [String] = []
        // The index of the call that began last.
        var index = callsBefore - 1
        for part in parts {
            switch part {
            case .content(let text):
                chunks.append(json.contentChunk(text, logprobs: logprobs))
                logprobs = []
            case .callBegins(_, let name):
                index += 1
                chunks.append(json.toolCallChunk(index: index, id: Self.id(requestID: requestID, index: index), name: name))
            case .arguments(let piece):
                chunks.append(json.toolArgumentsChunk(index: index, arguments: piece))
            }
        }
        // A piece that released nothing (held back, or inside a call's head) still gets a chunk, an
        // empty content delta with its logprobs: every token's event then carries its id, so a
        // client counting ids sees none missing, and the logprobs of every token go out once.
        if chunks.isEmpty || !logprobs.isEmpty { chunks.append(json.contentChunk("", logprobs: logprobs)) }
        return chunks
    }

    /// The whole answer `text` split: its content (nil when it only calls) and its calls with their ids.
    static func split(_ text: String, requestID: String) -> (content: String?, calls: [(id: String, call: ToolCall)]) {
        let (content, calls) = ToolCallExtractor.split(text)
        return (content, calls.enumerated().map { (id(requestID: requestID, index: $0.offset), $0.element) })
    }

    /// `call_` and 24 hex digits of SHA-256 over the request id and the call's index.
    static func id(requestID: String, index: Int) -> String {
        "call_" + UUIDText.hexString(SHA256.hash(data: Array("tool-call\u{0}\(requestID)\u{0}\(index)".utf8)).prefix(12))
    }

    /// OpenAI's `finish_reason` of an answer whose own reason is `reason` (`stop`, `length`, …):
    /// `tool_calls` for one that stops after calling.
    static func finishReason(_ reason: String, callCount: Int) -> String {
        reason == "stop" && callCount > 0 ? "tool_calls" : reason
    }
}
