import ParleyJSON
import ParleyProtocol

/// What a Responses API `response` object repeats of the request that made it. A stored answer
/// read back keeps none of it (the stores keep messages, not requests): it shows the defaults.
struct ResponseSettings {
    var instructions: String?
    var maxOutputTokens: Int?
    var temperature: Double?
    var topP: Double?
    var tools: ToolOptions?
    var format: ResponseFormat = .text
    var truncation = "disabled"
    var user: String?
    /// `metadata` (written in key order).
    var metadata: [String: String] = [:]
    var store = true
    var previousResponseID: String?
    var conversationID: String?
    /// `include: ["message.output_text.logprobs"]`: output text carries its tokens' logprobs.
    var includeLogprobs = false
}

/// How a response ended, or that it has not.
enum ResponseStatus: Equatable {
    case inProgress
    case completed
    /// Cut short by `max_output_tokens`.
    case incomplete(reason: String)
    /// Stopped by its user (or because its client went away and did not come back).
    case cancelled
    /// Ended by a failure: the answer's producer vanished and no other could go on with it.
    case failed(code: String, message: String)

    var name: String {
        switch self {
        case .inProgress: "in_progress"
        case .completed: "completed"
        case .incomplete: "incomplete"
        case .cancelled: "cancelled"
        case .failed: "failed"
        }
    }

    /// The status of output items of a response in this state.
    var itemStatus: String {
        switch self {
        case .inProgress: "in_progress"
        case .completed: "completed"
        case .incomplete, .cancelled, .failed: "incomplete"
        }
    }

    /// The event that ends a stream in this state (there is no event for a cancelled response:
    /// it ends as cut short does).
    var endEvent: String {
        switch self {
        case .completed, .inProgress: "response.completed"
        case .incomplete, .cancelled: "response.incomplete"
        case .failed: "response.failed"
        }
    }

    /// How an answer that ended for `reason` ended as a response: as it is stored.
    init(_ reason: FinishReason) {
        self.init(MessageStatus(finishedBy: reason))
    }

    /// The state of a response whose answer (stored, or its run) is in `status`.
    init(_ status: MessageStatus) {
        switch status {
        case .streaming: self = .inProgress
        case .complete: self = .completed
        case .truncated: self = .incomplete(reason: "max_output_tokens")
        case .cancelled: self = .cancelled
        case .interrupted: self = .failed(code: "interrupted", message: "the answer was interrupted: its model went away")
        }
    }
}

/// The Responses API's `response` object and its streamed events, written by hand as
/// ``ChatCompletionJSON`` writes chunks.
struct ResponseJSON {
    let id: String
    let model: String
    /// Unix seconds.
    let createdAt: Int
    let settings: ResponseSettings

    /// The `response` object with `output` (item objects) and `usage`.
    func object(status: ResponseStatus, output: [String], usage: TokenUsage?) -> String {
        var object = #"{"id":\#(JSON.quote(id)),"object":"response","created_at":\#(createdAt),"#
        object += #""status":\#(JSON.quote(status.name)),"background":false,"#
        switch status {
        case .failed(let code, let message):
            object += #""error":{"code":\#(JSON.quote(code)),"message":\#(JSON.quote(message))},"incomplete_details":null,"#
        case .incomplete(let reason):
            object += #""error":null,"incomplete_details":{"reason":\#(JSON.quote(reason))},"#
        case .inProgress, .completed, .cancelled:
            object += #""error":null,"incomplete_details":null,"#
        }
        object += #""instructions":\#(Self.quoteOrNull(settings.instructions)),"#
        object += #""max_output_tokens":\#(settings.maxOutputTokens.map(String.init) ?? "null"),"#
        object += #""model":\#(JSON.quote(model)),"output":[\#(output.joined(separator: ","))],"#
        object += #""parallel_tool_calls":\#(settings.tools?.parallelCalls ?? true),"#
        object += #""previous_response_id":\#(Self.quoteOrNull(settings.previousResponseID)),"#
        object += #""reasoning":{"effort":null,"summary":null},"store":\#(settings.store),"#
        object += #""temperature":\#(settings.temperature.map { String($0) } ?? "null"),"#
        object += #""text":{"format":\#(Self.format(settings.format))},"#
        object += #""tool_choice":\#(Self.toolChoice(settings.tools?.choice ?? .auto)),"#
        object += #""tools":[\#((settings.tools?.tools ?? []).map(Self.tool).joined(separator: ","))],"#
        object += #""top_p":\#(settings.topP.map { String($0) } ?? "null"),"#
        object += #""truncation":\#(JSON.quote(settings.truncation)),"usage":\#(usage.map(Self.usage) ?? "null"),"#
        object += #""user":\#(Self.quoteOrNull(settings.user)),"metadata":\#(Self.metadata(settings.metadata)),"#
        object += #""conversation":\#(settings.conversationID.map { #"{"id":\#(JSON.quote($0))}"# } ?? "null")}"#
        return object
    }

    /// An assistant message item holding one output text.
    func messageItem(id: String, status: String, text: String, logprobs: [TokenLogprob]) -> String {
        #"{"id":\#(JSON.quote(id)),"type":"message","status":\#(JSON.quote(status)),"role":"assistant","content":["#
            + outputText(text, logprobs: logprobs) + "]}"
    }

    /// The logprobs of output text: its tokens' when the request included them, else none.
    func logprobList(_ logprobs: [TokenLogprob]) -> String {
        settings.includeLogprobs ? ChatCompletionJSON.logprobList(logprobs) : "[]"
    }

    /// An `output_text` content part of this response.
    func outputText(_ text: String, logprobs: [TokenLogprob]) -> String {
        Self.outputText(text, logprobList: logprobList(logprobs))
    }

    /// An assistant message item that has only begun (no content yet).
    static func openMessageItem(id: String) -> String {
        #"{"id":\#(JSON.quote(id)),"type":"message","status":"in_progress","role":"assistant","content":[]}"#
    }

    /// A message item of a response's input: `part` (an `input_text` or `output_text` part) said by `role`.
    static func inputMessageItem(id: String, role: String, part: String) -> String {
        #"{"id":\#(JSON.quote(id)),"type":"message","role":\#(JSON.quote(role)),"status":"completed","content":[\#(part)]}"#
    }

    /// An `input_text` content part.
    static func inputText(_ text: String) -> String {
        #"{"type":"input_text","text":\#(JSON.quote(text))}"#
    }

    /// A tool's result, sent back for the call `callID`.
    static func functionCallOutputItem(id: String, callID: String, output: String) -> String {
        #"{"id":\#(JSON.quote(id)),"type":"function_call_output","status":"completed","#
            + #""call_id":\#(JSON.quote(callID)),"output":\#(JSON.quote(output))}"#
    }

    /// An `output_text` content part with its logprobs' JSON list.
    static func outputText(_ text: String, logprobList: String) -> String {
        #"{"type":"output_text","text":\#(JSON.quote(text)),"annotations":[],"logprobs":\#(logprobList)}"#
    }

    /// A function call item.
    static func functionCallItem(id: String, status: String, callID: String, name: String, arguments: String) -> String {
        #"{"id":\#(JSON.quote(id)),"type":"function_call","status":\#(JSON.quote(status)),"#
            + #""call_id":\#(JSON.quote(callID)),"name":\#(JSON.quote(name)),"arguments":\#(JSON.quote(arguments))}"#
    }

    /// One server-sent event: `event: <type>` and its data object, which starts with `type` and
    /// `sequence_number` and goes on with `fields` (members, no braces; empty for none).
    static func event(_ type: String, sequence: Int, _ fields: String) -> String {
        let rest = fields.isEmpty ? "" : "," + fields
        return "event: \(type)\ndata: {\"type\":\"\(type)\",\"sequence_number\":\(sequence)\(rest)}\n\n"
    }

    static func usage(_ usage: TokenUsage) -> String {
        #"{"input_tokens":\#(usage.promptTokens),"input_tokens_details":{"cached_tokens":\#(usage.cachedPromptTokens)},"#
            + #""output_tokens":\#(usage.completionTokens),"output_tokens_details":{"reasoning_tokens":0},"#
            + #""total_tokens":\#(usage.totalTokens)}"#
    }

    static func format(_ format: ResponseFormat) -> String {
        switch format {
        case .text: #"{"type":"text"}"#
        case .jsonObject: #"{"type":"json_object"}"#
        case .jsonSchema(let name, let schema):
            #"{"type":"json_schema","name":\#(JSON.quote(name)),"schema":\#(schema),"strict":true}"#
        }
    }

    static func toolChoice(_ choice: ToolChoice) -> String {
        switch choice {
        case .none: #""none""#
        case .auto: #""auto""#
        case .required: #""required""#
        case .function(let name): #"{"type":"function","name":\#(JSON.quote(name))}"#
        }
    }

    static func tool(_ tool: ToolDefinition) -> String {
        #"{"type":"function","name":\#(JSON.quote(tool.name)),"description":\#(quoteOrNull(tool.description)),"#
            + #""parameters":\#(tool.parameters ?? "null"),"strict":\#(tool.strict)}"#
    }

    static func metadata(_ metadata: [String: String]) -> String {
        "{" + metadata.keys.sorted().map { "\(JSON.quote($0)):\(JSON.quote(metadata[$0]!))" }.joined(separator: ",") + "}"
    }

    static func quoteOrNull(_ text: String?) -> String { text.map(JSON.quote) ?? "null" }
}
