import ParleyJSON
import ParleyProtocol
import ParleyToolCalls

/// OpenAI's `chat.completion` and `chat.completion.chunk` objects, written by hand: this runs
/// once per token, and string building is several times cheaper than `JSONEncoder`.
struct ChatCompletionJSON {
    let id: String
    let model: String
    /// Unix seconds.
    let created: Int
    /// With `stream_options.include_usage`, every chunk carries `"usage": null` and a last chunk
    /// carries the usage.
    let includeUsage: Bool
    /// Every chunk starts with this (built once per answer, not per token).
    private let head: String
    private let usageTail: String

    /// The request asked for `logprobs`: each content chunk carries the logprobs of its tokens,
    /// and the whole answer all of them.
    let includeLogprobs: Bool

    init(id: String, model: String, created: Int, includeUsage: Bool, includeLogprobs: Bool = false) {
        self.id = id
        self.model = model
        self.created = created
        self.includeUsage = includeUsage
        self.includeLogprobs = includeLogprobs
        head = #"{"id":\#(JSON.quote(id)),"object":"chat.completion.chunk","created":\#(created),"model":\#(JSON.quote(model)),"#
        usageTail = includeUsage ? #","usage":null}"# : "}"
    }

    /// The first chunk: the assistant role, empty content.
    func roleChunk() -> String {
        head + #""choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]"#
            + usageTail
    }

    /// One token's chunk; `logprobs` are those of the model tokens it covers (when asked for).
    func contentChunk(_ text: String, logprobs: [TokenLogprob] = []) -> String {
        head + #""choices":[{"index":0,"delta":{"content":\#(JSON.quote(text))},"logprobs":\#(logprobsObject(logprobs)),"#
            + #""finish_reason":null}]"# + usageTail
    }

    /// The first chunk of a tool call (`index` counts the answer's calls from 0): its id and name,
    /// no arguments yet.
    func toolCallChunk(index: Int, id: String, name: String) -> String {
        let call = #"{"index":\#(index),"id":\#(JSON.quote(id)),"type":"function","function":{"name":\#(JSON.quote(name)),"arguments":""}}"#
        return head + #""choices":[{"index":0,"delta":{"tool_calls":[\#(call)]},"logprobs":null,"finish_reason":null}]"#
            + usageTail
    }

    /// A piece of the arguments of the tool call at `index`.
    func toolArgumentsChunk(index: Int, arguments: String) -> String {
        let call = #"{"index":\#(index),"function":{"arguments":\#(JSON.quote(arguments))}}"#
        return head + #""choices":[{"index":0,"delta":{"tool_calls":[\#(call)]},"logprobs":null,"finish_reason":null}]"#
            + usageTail
    }

    /// `{"id":…,"type":"function","function":{"name":…,"arguments":…}}`: a call of a whole answer.
    static func toolCall(id: String, call: ToolCall) -> String {
        #"{"id":\#(JSON.quote(id)),"type":"function","function":{"name":\#(JSON.quote(call.name)),"#
            + #""arguments":\#(JSON.quote(call.arguments))}}"#
    }

    func finishChunk(_ reason: String) -> String {
        head + #""choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":\#(JSON.quote(reason))}]"# + usageTail
    }

    func usageChunk(_ usage: TokenUsage) -> String {
        head + #""choices":[],"usage":\#(Self.usage(usage))}"#
    }

    /// The whole answer of a non-streaming request: its content (null when it only calls tools) and
    /// its tool calls.
    func completion(
        text: String?, finishReason: String, usage: TokenUsage, logprobs: [TokenLogprob] = [],
        toolCalls: [(id: String, call: ToolCall)] = []
    ) -> String {
        var message = #"{"role":"assistant","content":\#(text.map(JSON.quote) ?? "null"),"refusal":null"#
        if !toolCalls.isEmpty {
            message += #","tool_calls":["# + toolCalls.map { Self.toolCall(id: $0.id, call: $0.call) }
                .joined(separator: ",") + "]"
        }
        return #"{"id":\#(JSON.quote(id)),"object":"chat.completion","created":\#(created),"model":\#(JSON.quote(model)),"#
            + #""choices":[{"index":0,"message":\#(message)},"#
            + #""logprobs":\#(logprobsObject(logprobs)),"finish_reason":\#(JSON.quote(finishReason))}],"#
            + #""usage":\#(Self.usage(usage))}"#
    }

    /// A choice's `logprobs`: `null` unless the request asked for them, else
    /// `{"content":[…],"refusal":null}` with one item per model token.
    func logprobsObject(_ logprobs: [TokenLogprob]) -> String {
        guard includeLogprobs else { return "null" }
        return #"{"content":"# + Self.logprobList(logprobs) + #","refusal":null}"#
    }

    /// `[{"token":…,"logprob":…,"bytes":[…],"top_logprobs":[…]}, …]`, one item per model token.
    static func logprobList(_ logprobs: [TokenLogprob]) -> String {
        var list = "["
        for (i, item) in logprobs.enumerated() {
            if i > 0 { list += "," }
            append(item, to: &list, withTop: true)
        }
        return list + "]"
    }

    /// `{"token":…,"logprob":…,"bytes":[…],"top_logprobs":[…]}` (the alternatives without their own list).
    private static func append(_ item: TokenLogprob, to object: inout String, withTop: Bool) {
        object += #"{"token":\#(JSON.quote(item.text)),"logprob":\#(number(item.logprob)),"bytes":["#
        object += item.bytes.map(String.init).joined(separator: ",")
        object += "]"
        if withTop {
            object += #","top_logprobs":["#
            for (i, alternative) in item.top.enumerated() {
                if i > 0 { object += "," }
                append(alternative, to: &object, withTop: false)
            }
            object += "]"
        }
        object += "}"
    }

    /// A log probability as a JSON number (which has no infinity or NaN: those become OpenAI's −9999).
    private static func number(_ value: Double) -> String {
        value.isFinite ? String(value) : "-9999.0"
    }

    static func usage(_ usage: TokenUsage) -> String {
        #"{"prompt_tokens":\#(usage.promptTokens),"completion_tokens":\#(usage.completionTokens),"total_tokens":\#(usage.totalTokens),"#
            + #""prompt_tokens_details":{"cached_tokens":\#(usage.cachedPromptTokens)}}"#
    }

    /// OpenAI's `finish_reason` for ours: `stop`, `length`, or `cancelled` (Parley's addition).
    static func finishReason(_ reason: FinishReason) -> String { reason.rawValue }
}

/// Server-sent events framing.
enum SSE {
    /// `id: <id>` then `data: <json>` and a blank line.
    static func event(id: Int64?, data: String) -> String {
        if let id { return "id: \(id)\ndata: \(data)\n\n" }
        return "data: \(data)\n\n"
    }

    /// Several events; only the last carries `lastID` (a client that resumes after that id has had
    /// them all). None: nothing (an event with an id and no data would break the `openai` client;
    /// a resume replays from the client's last id and reads the held text again).
    static func events(_ data: [String], lastID: Int64?) -> String {
        var text = ""
        for (i, item) in data.enumerated() { text += event(id: i == data.count - 1 ? lastID : nil, data: item) }
        return text
    }

    static let done = "data: [DONE]\n\n"
    /// A comment line: keeps proxies and clients from timing out while nothing else flows.
    ///
    /// Comments end in one line end, never a blank line: a blank line dispatches an event, and the
    /// `openai` Python client (3.x) dispatches one with empty data once any `id:` was seen, which it
    /// then fails to parse as JSON. A lone comment line between events is skipped by every parser.
    static let heartbeat = ": keep-alive\n"

    /// How far the model has read a long prompt, before the first token: the comment
    /// `: prompt <computed>/<total>`. Clients that do not know it skip it as any comment.
    static func promptProgress(computed: Int, of total: Int) -> String {
        ": prompt \(computed)/\(total)\n"
    }

    /// An error inside an already started stream (the status line was sent).
    static func error(_ error: OpenAIError) -> String {
        "event: error\ndata: " + String(decoding: error.body, as: UTF8.self) + "\n\n"
    }
}
