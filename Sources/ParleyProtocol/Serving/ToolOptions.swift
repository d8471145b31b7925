/// A function the model may call (an entry of OpenAI's `tools`).
public struct ToolDefinition: Hashable, Sendable, Codable {
    /// Letters, digits, `_` and `-`, at most 64 (checked by the gateway).
    public var name: String
    public var description: String?
    /// Its parameters' JSON schema as compact JSON text; nil: it takes none.
    public var parameters: String?
    /// The arguments must follow the schema (`strict`): the gateway has checked that the built-in
    /// engine can enforce it. Without, a schema it cannot enforce holds the arguments to any object.
    public var strict: Bool

    public init(name: String, description: String? = nil, parameters: String? = nil, strict: Bool = false) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict
    }
}

/// Whether and which tools the answer calls (OpenAI's `tool_choice`).
public enum ToolChoice: Hashable, Sendable, Codable {
    /// The model answers in text (the tools are not shown to it).
    case none
    /// Text or calls, as the model decides.
    case auto
    /// The answer calls one or more of the tools.
    case required
    /// The answer calls this tool.
    case function(String)
}

/// The tools a request offers and how they may be used. A call in an answer is written in the
/// answer's text as markup (`<tool_call>` … `</tool_call>`, ParleyToolCalls' `ToolCallMarkup`),
/// so every hop relays, logs and resumes it like any text; the gateway turns it into `tool_calls`.
public struct ToolOptions: Hashable, Sendable, Codable {
    public var tools: [ToolDefinition]
    public var choice: ToolChoice
    /// More than one call in an answer (`parallel_tool_calls`, default true).
    public var parallelCalls: Bool

    public init(tools: [ToolDefinition], choice: ToolChoice = .auto, parallelCalls: Bool = true) {
        self.tools = tools
        self.choice = choice
        self.parallelCalls = parallelCalls
    }

    /// The tools the answer may call: none for ``ToolChoice/none``, the named one for
    /// ``ToolChoice/function(_:)``.
    public var callable: [ToolDefinition] {
        switch choice {
        case .none: []
        case .auto, .required: tools
        case .function(let name): tools.filter { $0.name == name }
        }
    }

    /// Whether the answer must start with a call.
    public var callRequired: Bool {
        switch choice {
        case .required, .function: true
        case .none, .auto: false
        }
    }
}
