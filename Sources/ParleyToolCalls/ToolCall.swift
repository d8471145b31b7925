import ParleyJSON

/// One call of a tool as an answer makes it: which tool, with what arguments.
public struct ToolCall: Hashable, Sendable {
    /// The call's id when the markup names one (calls a client sent back in a chat's history);
    /// nil for calls a model writes, whose ids the server gives.
    public var id: String?
    /// The tool's name.
    public var name: String
    /// The arguments as JSON text (usually an object), exactly as the answer wrote them.
    public var arguments: String

    public init(id: String? = nil, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// How tool calls are written inside an answer's text: each call is a JSON object with the tool's
/// `name` and its `arguments`, between `<tool_call>` and `</tool_call>` lines:
///
/// ```
/// <tool_call>
/// {"name": "get_weather", "arguments": {"city": "Paris"}}
/// </tool_call>
/// ```
///
/// This is the form ChatML models trained for tools write (Qwen, Hermes, SmolLM3), the one the
/// built-in model is prompted for and held to (``ToolCallGrammar``), and the one every other
/// backend turns its calls into, so an answer, its stored copy and its generation log stay plain
/// text and a resumed answer continues in the same form. The gateway reads the calls back out
/// (``ToolCallExtractor``). `arguments` may also be a JSON string holding the arguments' text (how
/// an upstream server's calls are kept, since their text arrives in pieces that need not parse).
public enum ToolCallMarkup {
    public static let open = "<tool_call>"
    public static let close = "</tool_call>"

    /// The markup of `call`, on lines of its own; with its id first when it has one.
    public static func text(of call: ToolCall) -> String {
        var object = "{"
        if let id = call.id { object += "\"id\": " + JSON.quote(id) + ", " }
        object += "\"name\": " + JSON.quote(call.name) + ", \"arguments\": " + argumentsText(call.arguments) + "}"
        return open + "\n" + object + "\n" + close
    }

    /// `arguments` as the value of the markup's `arguments` key: itself when it is a JSON value,
    /// else as a JSON string.
    static func argumentsText(_ arguments: String) -> String {
        (try? JSONParser.parse(Array(arguments.utf8))) != nil ? arguments : JSON.quote(arguments)
    }

    /// The call written between the tags, or nil when `inner` is not such an object: a JSON object
    /// with a string `name` and `arguments` (any JSON value; a string is taken as the arguments'
    /// text), and optionally a string `id`, nothing else.
    public static func parseCall<Bytes: Collection<UInt8>>(_ inner: Bytes) -> ToolCall? {
        let bytes = Array(inner)
        guard case .object(let members)? = try? JSONParser.parse(bytes), members.count <= 3,
            case .string(let name)? = members["name"], !name.isEmpty, let arguments = members["arguments"]
        else { return nil }
        var id: String?
        if let idValue = members["id"] {
            guard case .string(let text) = idValue else { return nil }
            id = text
        } else if members.count == 3 {
            return nil
        }
        if case .string(let text) = arguments { return ToolCall(id: id, name: name, arguments: text) }
        let raw = TopLevelMembers.valueText(of: "arguments", in: bytes) ?? arguments.jsonText
        return ToolCall(id: id, name: name, arguments: raw)
    }
}
