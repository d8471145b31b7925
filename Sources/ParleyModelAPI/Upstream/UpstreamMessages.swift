import ParleyJSON
import ParleyProtocol
import ParleyToolCalls

/// A chat message as an OpenAI-compatible server takes it: an assistant's calls (markup in
/// Parley's text, ``ToolCallMarkup``) as `tool_calls`, a tool result with its `tool_call_id`.
struct UpstreamMessage: Encodable, Equatable {
    struct Call: Encodable, Equatable {
        struct Function: Encodable, Equatable {
            var name: String
            var arguments: String
        }

        var id: String
        var type = "function"
        var function: Function
    }

    var role: String
    /// Nil for an assistant message that only calls tools.
    var content: String?
    var toolCalls: [Call]?
    var toolCallID: String?

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    /// `messages` for the upstream, assistant messages without their reasoning. A call without an id (one a model wrote) is named after its
    /// message's place and its own (`call_m3_0`); a tool result without an id (a stored chat keeps
    /// none) answers the earliest call of the assistant message before it that no result answered yet.
    static func from(_ messages: [ChatMessage]) -> [UpstreamMessage] {
        var result: [UpstreamMessage] = []
        var unanswered: [String] = []
        for (index, message) in messages.enumerated() {
            switch message.role {
            case "assistant":
                let (content, made) = ToolCallExtractor.split(
                    UpstreamReasoningText.withoutLeadingReasoning(message.content))
                let calls = made.enumerated().map { k, call in
                    Call(id: call.id ?? "call_m\(index)_\(k)", function: .init(name: call.name, arguments: call.arguments))
                }
                unanswered = calls.map(\.id)
                result.append(UpstreamMessage(role: "assistant", content: content, toolCalls: calls.isEmpty ? nil : calls))
            case "tool":
                var id = message.toolCallID
                if let known = id { unanswered.removeAll { $0 == known } } else if !unanswered.isEmpty {
                    id = unanswered.removeFirst()
                }
                result.append(UpstreamMessage(role: "tool", content: message.content, toolCallID: id))
            default:
                result.append(UpstreamMessage(role: message.role, content: message.content))
            }
        }
        return result
    }
}

/// The `tools`, `tool_choice` and `parallel_tool_calls` members of an upstream request, as JSON
/// text (the schemas travel as the JSON text the gateway checked).
enum UpstreamTools {
    static func members(_ options: ToolOptions) -> String {
        let tools = options.tools.map { tool in
            var function = #"{"name":\#(JSON.quote(tool.name))"#
            if let description = tool.description { function += #","description":\#(JSON.quote(description))"# }
            if let parameters = tool.parameters { function += #","parameters":\#(parameters)"# }
            if tool.strict { function += #","strict":true"# }
            return #"{"type":"function","function":\#(function)}}"#
        }
        let choice: String
        switch options.choice {
        case .none: choice = #""none""#
        case .auto: choice = #""auto""#
        case .required: choice = #""required""#
        case .function(let name): choice = #"{"type":"function","function":{"name":\#(JSON.quote(name))}}"#
        }
        return #""tools":[\#(tools.joined(separator: ","))],"tool_choice":\#(choice),"parallel_tool_calls":\#(options.parallelCalls)"#
    }
}

/// Turns an upstream's streamed `tool_calls` deltas into the markup of Parley's answer text, piece
/// by piece: a call opens with its name, its argument pieces follow as the text of a JSON string
/// (pieces need not parse on their own), and it closes when another call, content, or the end comes.
struct UpstreamToolCallText {
    /// The upstream's index of the call being written.
    private var open: Int?

    /// The text for a delta of call `index` with `name` (its first delta) and an `arguments` piece.
    mutating func text(index: Int, name: String?, arguments: String?) -> String {
        var text = ""
        if open != index {
            text += close()
            text += ToolCallMarkup.open + "\n" + #"{"name": \#(JSON.quote(name ?? "")), "arguments": ""#
            open = index
        }
        if let arguments, !arguments.isEmpty { text += String(JSON.quote(arguments).dropFirst().dropLast()) }
        return text
    }

    /// The text that closes the open call, if one is open.
    mutating func close() -> String {
        guard open != nil else { return "" }
        open = nil
        return "\"}\n" + ToolCallMarkup.close
    }
}
