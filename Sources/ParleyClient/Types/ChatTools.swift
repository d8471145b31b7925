import Foundation
import ParleyJSON

/// A function the model may call (one entry of OpenAI's `tools`).
public struct ChatTool: Hashable, Sendable {
    /// 1 to 64 letters, digits, `_` or `-`.
    public var name: String
    public var description: String?
    /// Its parameters' JSON schema, as JSON text; nil: it takes none.
    public var parametersJSON: String?
    /// Hold the arguments to the schema exactly (OpenAI's `strict`).
    public var strict: Bool

    public init(name: String, description: String? = nil, parametersJSON: String? = nil, strict: Bool = false) {
        self.name = name
        self.description = description
        self.parametersJSON = parametersJSON
        self.strict = strict
    }

    /// `{"type":"function","function":{…}}`.
    var json: String {
        var function = #"{"name":\#(JSON.quote(name))"#
        if let description { function += #","description":\#(JSON.quote(description))"# }
        if let parametersJSON { function += #","parameters":\#(parametersJSON)"# }
        if strict { function += #","strict":true"# }
        return #"{"type":"function","function":\#(function)}}"#
    }
}

/// Whether and which tool the answer calls (OpenAI's `tool_choice`).
public enum ChatToolChoice: Hashable, Sendable {
    case none, auto, required
    /// This tool.
    case function(String)

    var json: String {
        switch self {
        case .none: #""none""#
        case .auto: #""auto""#
        case .required: #""required""#
        case .function(let name): #"{"type":"function","function":{"name":\#(JSON.quote(name))}}"#
        }
    }
}

/// A call of a tool: in a whole answer, or in an assistant message sent back with the chat.
public struct ChatToolCall: Hashable, Sendable, Codable {
    public var id: String
    public var name: String
    /// The arguments as JSON text.
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    struct Function: Codable {
        var name: String
        var arguments: String
    }

    enum CodingKeys: String, CodingKey { case id, type, function }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let function = try container.decode(Function.self, forKey: .function)
        self.init(id: try container.decode(String.self, forKey: .id), name: function.name, arguments: function.arguments)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode("function", forKey: .type)
        try container.encode(Function(name: name, arguments: arguments), forKey: .function)
    }
}

/// A piece of a streamed tool call: its first piece has the id and the name, later ones more of
/// the arguments' text.
public struct ChatToolCallDelta: Hashable, Sendable {
    /// Which call of the answer (from 0).
    public var index: Int
    public var id: String?
    public var name: String?
    public var arguments: String
}
