import ParleyJSON

/// How a chat with tools is put to a ChatML model trained for them: the tools listed in the system
/// message with how to call them (``ToolCallMarkup``), and each tool's result handed back in a
/// user turn between `<tool_response>` tags, the results of one round of calls together.
public enum ToolPrompt {
    /// A tool as the prompt lists it.
    public struct Tool: Sendable, Equatable {
        public var name: String
        public var description: String?
        /// Its parameters' JSON schema, as JSON text.
        public var parameters: String?

        public init(name: String, description: String? = nil, parameters: String? = nil) {
            self.name = name
            self.description = description
            self.parameters = parameters
        }
    }

    /// One turn of the rendered chat.
    public struct Turn: Sendable, Equatable {
        public var role: String
        public var content: String
    }

    /// The chat's turns for the model: with `tools`, first the system message (the chat's own, or
    /// the model's default one) with the tools listed after it; `tool` messages as user turns,
    /// consecutive ones in one. Other messages are as they are (an assistant's earlier calls are
    /// already markup in its content). Without tools and tool messages, the chat as it is.
    public static func turns(
        _ messages: [(role: String, content: String)], tools: [Tool], defaultSystem: String?
    ) -> [Turn] {
        var turns: [Turn] = []
        var rest = messages[...]
        if !tools.isEmpty {
            var system = defaultSystem
            if let first = rest.first, first.role == "system" {
                system = first.content
                rest = rest.dropFirst()
            }
            turns.append(Turn(role: "system", content: systemText(system, tools: tools)))
        }
        for message in rest {
            guard message.role == "tool" else {
                turns.append(Turn(role: message.role, content: message.content))
                continue
            }
            let response = "<tool_response>\n" + message.content + "\n</tool_response>"
            if let last = turns.last, last.role == "user", last.content.hasSuffix("</tool_response>") {
                turns[turns.count - 1].content += "\n" + response
            } else {
                turns.append(Turn(role: "user", content: response))
            }
        }
        return turns
    }

    /// The system message text with the tools and how to call them.
    public static func systemText(_ system: String?, tools: [Tool]) -> String {
        var text = ""
        if let system, !system.isEmpty { text = system + "\n\n" }
        text += "# Tools\n\nYou can call functions to get what you need for your answer. Their signatures, "
        text += "one JSON object a line, are inside <tools></tools>:\n<tools>\n"
        for tool in tools { text += signature(tool) + "\n" }
        text += "</tools>\n\nTo call a function, reply with its name and a JSON object of its arguments inside "
        text += "<tool_call></tool_call>, one call each:\n" + ToolCallMarkup.open + "\n"
        text += "{\"name\": <function name>, \"arguments\": <arguments object>}\n" + ToolCallMarkup.close
        return text
    }

    private static func signature(_ tool: Tool) -> String {
        var function = "{\"name\": " + JSON.quote(tool.name)
        if let description = tool.description { function += ", \"description\": " + JSON.quote(description) }
        function += ", \"parameters\": " + (tool.parameters ?? "{\"type\": \"object\", \"properties\": {}}") + "}"
        return "{\"type\": \"function\", \"function\": " + function + "}"
    }
}
