import Crypto
import ParleyProtocol
import ParleyToolCalls

/// The tool calls of one answer, read out of its text as it streams (``ToolCallExtractor``) and
/// written as OpenAI's `tool_calls`: each call in one chunk, whole, once its markup closes. Content
/// the answer says around its calls goes out as content.
///
/// A call's id derives from the request id and the call's place in the answer, so an answer read
/// again (a resumed stream, a repeated Idempotency-Key) names its calls as the first reading did.
struct AnswerToolCalls {
    let requestID: String
    private var extractor = ToolCallExtractor()

    init(requestID: String) {
        self.requestID = requestID
    }

    /// Calls read so far.
    var callCount: Int { extractor.callCount }

    /// The chunks (SSE data) of the next piece of the answer; `logprobs` go with its first content.
    mutating func chunks(_ text: String, logprobs: [TokenLogprob], json: ChatCompletionJSON) -> [String] {
        chunks(of: extractor.read(text), logprobs: logprobs, json: json)
    }

    /// The chunks of what was held back at the answer's end.
    mutating func finish(json: ChatCompletionJSON) -> [String] {
        chunks(of: extractor.finish(), logprobs: [], json: json)
    }

    private mutating func chunks(of parts: [ToolCallExtractor.Part], logprobs: [TokenLogprob], json: ChatCompletionJSON)
        -> [String]
    {
        var logprobs = logprobs
        var chunks: [String] = []
        var index = extractor.callCount - parts.count { if case .call = $0 { true } else { false } }
        for part in parts {
            switch part {
            case .content(let text):
                chunks.append(json.contentChunk(text, logprobs: logprobs))
                logprobs = []
            case .call(let call):
                chunks.append(json.toolCallChunk(index: index, id: Self.id(requestID: requestID, index: index), call: call))
                index += 1
            }
        }
        return chunks
    }

    /// The whole answer `text` split: its content (nil when it only calls) and its calls.
    static func split(_ text: String, requestID: String) -> (content: String?, calls: [(id: String, call: ToolCall)]) {
        var extractor = ToolCallExtractor()
        var content = ""
        var calls: [(String, ToolCall)] = []
        for part in extractor.read(text) + extractor.finish() {
            switch part {
            case .content(let piece): content += piece
            case .call(let call): calls.append((id(requestID: requestID, index: calls.count), call))
            }
        }
        let blank = content.allSatisfy(\.isWhitespace)
        return (calls.isEmpty || !blank ? content : nil, calls)
    }

    /// `call_` and 24 hex digits of SHA-256 over the request id and the call's index.
    static func id(requestID: String, index: Int) -> String {
        let digest = SHA256.hash(data: Array("tool-call\u{0}\(requestID)\u{0}\(index)".utf8))
        return "call_" + digest.prefix(12).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }

    /// OpenAI's `finish_reason`: `tool_calls` for an answer that ends after calling.
    static func finishReason(_ reason: FinishReason, callCount: Int) -> String {
        reason == .stop && callCount > 0 ? "tool_calls" : ChatCompletionJSON.finishReason(reason)
    }
}
