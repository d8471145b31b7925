public import Foundation

/// A conversation as listed: no messages.
public struct ConversationSummary: Hashable, Sendable, Codable {
    /// Time-ordered id (UUIDv7 text, lowercase), or a deterministic id for imported conversations.
    public var id: String
    public var title: String
    /// The model last used in it, if any.
    public var model: String?
    public var createdAt: Date
    /// Time of the last change (message appended, renamed, pinned).
    public var updatedAt: Date
    /// Pinned conversations come first in the list.
    public var pinned: Bool
    /// The leaf of the visible branch, `nil` while empty.
    public var currentMessageID: String?

    public init(
        id: String, title: String, model: String?, createdAt: Date, updatedAt: Date, pinned: Bool,
        currentMessageID: String?
    ) {
        self.id = id
        self.title = title
        self.model = model
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.pinned = pinned
        self.currentMessageID = currentMessageID
    }

    enum CodingKeys: String, CodingKey {
        case id, title, model, pinned
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case currentMessageID = "current_message_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        title = try c.decode(String.self, forKey: .title)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        createdAt = try UnixTime.decode(c, .createdAt)
        updatedAt = try UnixTime.decode(c, .updatedAt)
        pinned = try c.decodeIfPresent(Bool.self, forKey: .pinned) ?? false
        currentMessageID = try c.decodeIfPresent(String.self, forKey: .currentMessageID)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(title, forKey: .title)
        try c.encode(model, forKey: .model)
        try c.encode(UnixTime.seconds(createdAt), forKey: .createdAt)
        try c.encode(UnixTime.seconds(updatedAt), forKey: .updatedAt)
        try c.encodeIfPresent(Optional(pinned), forKey: .pinned)
        try c.encode(currentMessageID, forKey: .currentMessageID)
    }
}

/// A conversation with every message of every branch (oldest first) and the leaf of the visible one.
public struct ConversationDetails: Hashable, Sendable, Codable {
    public var summary: ConversationSummary
    /// All messages of all branches, ordered by creation time then id.
    public var messages: [ConversationMessage]

    public init(summary: ConversationSummary, messages: [ConversationMessage]) {
        self.summary = summary
        self.messages = messages
    }

    enum CodingKeys: String, CodingKey { case messages }

    /// Flat JSON: the summary's fields plus `messages`.
    public init(from decoder: any Decoder) throws {
        summary = try ConversationSummary(from: decoder)
        messages = try decoder.container(keyedBy: CodingKeys.self).decode([ConversationMessage].self, forKey: .messages)
    }

    public func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(messages, forKey: .messages)
    }
}

/// A change to a conversation's own fields (`PATCH /v1/conversations/{id}`); `nil` leaves a field.
public struct ConversationPatch: Hashable, Sendable, Codable {
    public var title: String?
    public var pinned: Bool?
    /// Switch the visible branch to the one ending at this message.
    public var currentMessageID: String?

    public init(title: String? = nil, pinned: Bool? = nil, currentMessageID: String? = nil) {
        self.title = title
        self.pinned = pinned
        self.currentMessageID = currentMessageID
    }

    enum CodingKeys: String, CodingKey {
        case title, pinned
        case currentMessageID = "current_message_id"
    }
}
