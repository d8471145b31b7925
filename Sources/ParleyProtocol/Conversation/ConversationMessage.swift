public import Foundation

/// Who wrote a stored message.
public struct MessageRole: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }

    public static let system = MessageRole(rawValue: "system")
    public static let user = MessageRole(rawValue: "user")
    public static let assistant = MessageRole(rawValue: "assistant")
    public static let tool = MessageRole(rawValue: "tool")
    /// Every role the service accepts.
    public static let known: Set<MessageRole> = [.system, .user, .assistant, .tool]
}

/// How a message ended.
public enum MessageStatus: String, Hashable, Sendable, Codable, CaseIterable {
    /// The answer finished normally (or the message is not generated, e.g. a user message).
    case complete
    /// The answer reached its token limit (`max_tokens`): it is whole up to there, but the model
    /// had more to say.
    case truncated
    /// The user stopped the generation; the content is the partial answer.
    case cancelled
    /// The producer vanished before finishing; the content is what was received.
    case interrupted
    /// Still being generated.
    case streaming
}

extension MessageStatus {
    /// How an answer that ended for `reason` is stored.
    public init(finishedBy reason: FinishReason) {
        switch reason {
        case .stop: self = .complete
        case .length: self = .truncated
        case .cancelled: self = .cancelled
        }
    }
}

/// One stored message of a conversation. Messages are immutable once stored; edits and
/// regenerations are new messages with the same `parentID`, forming branches.
public struct ConversationMessage: Hashable, Sendable, Codable {
    /// Time-ordered id (UUIDv7 text, lowercase), or a deterministic id for imported messages.
    public var id: String
    /// The conversation it belongs to.
    public var conversationID: String
    /// The previous message on its branch; `nil` for a root.
    public var parentID: String?
    public var role: MessageRole
    /// The text. At most ``ConversationLimits/maxContentBytes`` UTF-8 bytes.
    public var content: String
    /// Model that produced it (assistant messages), if known.
    public var model: String?
    /// Prompt tokens of the request that produced it, if known.
    public var promptTokens: Int?
    /// Generated tokens, if known.
    public var completionTokens: Int?
    public var status: MessageStatus
    /// When it was written (millisecond precision).
    public var createdAt: Date

    public init(
        id: String, conversationID: String, parentID: String?, role: MessageRole, content: String,
        model: String? = nil, promptTokens: Int? = nil, completionTokens: Int? = nil,
        status: MessageStatus = .complete, createdAt: Date
    ) {
        self.id = id
        self.conversationID = conversationID
        self.parentID = parentID
        self.role = role
        self.content = content
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.status = status
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, role, content, model, status
        case conversationID = "conversation_id"
        case parentID = "parent_id"
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case createdAt = "created_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        conversationID = try c.decode(String.self, forKey: .conversationID)
        parentID = try c.decodeIfPresent(String.self, forKey: .parentID)
        role = try c.decode(MessageRole.self, forKey: .role)
        content = try c.decode(String.self, forKey: .content)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        promptTokens = try c.decodeIfPresent(Int.self, forKey: .promptTokens)
        completionTokens = try c.decodeIfPresent(Int.self, forKey: .completionTokens)
        status = try c.decode(MessageStatus.self, forKey: .status)
        createdAt = try UnixTime.decode(c, .createdAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(conversationID, forKey: .conversationID)
        try c.encode(parentID, forKey: .parentID)
        try c.encode(role, forKey: .role)
        try c.encode(content, forKey: .content)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encodeIfPresent(promptTokens, forKey: .promptTokens)
        try c.encodeIfPresent(completionTokens, forKey: .completionTokens)
        try c.encode(status, forKey: .status)
        try c.encode(UnixTime.seconds(createdAt), forKey: .createdAt)
    }
}

/// Limits the conversation service enforces on input.
public enum ConversationLimits {
    /// Largest message content accepted: 1 MiB of UTF-8.
    public static let maxContentBytes = 1 << 20
    /// Longest title accepted: 1,000 UTF-8 bytes.
    public static let maxTitleBytes = 1_000
    /// Longest search query accepted: 1,000 UTF-8 bytes.
    public static let maxQueryBytes = 1_000
    /// Largest page size; larger `limit`s are clamped to it.
    public static let maxPageSize = 200
    /// Page size when none is given.
    public static let defaultPageSize = 50
}

/// Dates on the wire are Unix seconds as a JSON number (fractional for milliseconds),
/// independent of the encoder's date strategy.
enum UnixTime {
    static func seconds(_ date: Date) -> Double {
        (date.timeIntervalSince1970 * 1000).rounded() / 1000
    }

    static func decode<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> Date {
        Date(timeIntervalSince1970: try c.decode(Double.self, forKey: key))
    }

    static func decodeIfPresent<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> Date? {
        try c.decodeIfPresent(Double.self, forKey: key).map { Date(timeIntervalSince1970: $0) }
    }
}
