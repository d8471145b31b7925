public import Foundation

/// One page of a list answer `{"object": "list", "data": [...], "next_cursor": …}`.
public struct ListPage<Item: Sendable & Hashable & Decodable>: Hashable, Sendable, Decodable {
    public var data: [Item]
    /// Pass to the next call for the following page; `nil` on the last page.
    public var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
    }
}

/// A stored conversation as listed (no messages).
public struct StoredConversation: Hashable, Sendable, Decodable {
    public var id: String
    public var title: String
    public var model: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var pinned: Bool
    /// The leaf of the visible branch; `nil` while empty.
    public var currentMessageID: String?

    enum CodingKeys: String, CodingKey {
        case id, title, model, pinned
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case currentMessageID = "current_message_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        title = try c.decodeIfPresent(String.self, forKey: .title) ?? ""
        model = try c.decodeIfPresent(String.self, forKey: .model)
        createdAt = try UnixSeconds.decode(c, .createdAt)
        updatedAt = try UnixSeconds.decode(c, .updatedAt)
        pinned = try c.decodeIfPresent(Bool.self, forKey: .pinned) ?? false
        currentMessageID = try c.decodeIfPresent(String.self, forKey: .currentMessageID)
    }
}

/// One message of a stored conversation.
public struct StoredMessage: Hashable, Sendable, Decodable {
    public var id: String
    /// `nil` for the first message of a branch root.
    public var parentID: String?
    public var role: String
    public var content: String
    /// `complete`, `cancelled`, `interrupted` or `streaming`.
    public var status: String
    public var model: String?
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, role, content, status, model
        case parentID = "parent_id"
        case createdAt = "created_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        parentID = try c.decodeIfPresent(String.self, forKey: .parentID)
        role = try c.decode(String.self, forKey: .role)
        content = try c.decodeIfPresent(String.self, forKey: .content) ?? ""
        status = try c.decodeIfPresent(String.self, forKey: .status) ?? "complete"
        model = try c.decodeIfPresent(String.self, forKey: .model)
        createdAt = try UnixSeconds.decode(c, .createdAt)
    }
}

/// A conversation with every message of every branch.
public struct StoredConversationDetails: Hashable, Sendable, Decodable {
    public var conversation: StoredConversation
    /// All messages of all branches, oldest first.
    public var messages: [StoredMessage]

    enum CodingKeys: String, CodingKey { case messages }

    public init(from decoder: any Decoder) throws {
        conversation = try StoredConversation(from: decoder)
        messages = try decoder.container(keyedBy: CodingKeys.self).decode([StoredMessage].self, forKey: .messages)
    }

    /// The visible branch: from the root down to ``StoredConversation/currentMessageID``.
    public var visibleBranch: [StoredMessage] {
        let byID = Dictionary(messages.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var branch: [StoredMessage] = []
        var next = conversation.currentMessageID
        while let id = next, let message = byID[id], branch.count <= messages.count {
            branch.append(message)
            next = message.parentID
        }
        return branch.reversed()
    }
}

/// Filters of a conversation search; `nil` fields do not filter.
public struct SearchFilters: Hashable, Sendable, Encodable {
    public var from: Date?
    public var to: Date?
    public var model: String?
    public var role: String?

    public init(from: Date? = nil, to: Date? = nil, model: String? = nil, role: String? = nil) {
        self.from = from
        self.to = to
        self.model = model
        self.role = role
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(from?.timeIntervalSince1970, forKey: .from)
        try c.encodeIfPresent(to?.timeIntervalSince1970, forKey: .to)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encodeIfPresent(role, forKey: .role)
    }

    enum CodingKeys: String, CodingKey { case from, to, model, role }
}

/// One hit of `POST /v1/conversations/search`.
public struct SearchHit: Hashable, Sendable, Decodable {
    public var conversationID: String
    public var messageID: String
    public var role: String
    public var createdAt: Date
    /// Higher is better.
    public var score: Double
    /// HTML-escaped text with the matched terms in `<mark>…</mark>`.
    public var snippet: String

    enum CodingKeys: String, CodingKey {
        case role, score, snippet
        case conversationID = "conversation_id"
        case messageID = "message_id"
        case createdAt = "created_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        conversationID = try c.decode(String.self, forKey: .conversationID)
        messageID = try c.decode(String.self, forKey: .messageID)
        role = try c.decode(String.self, forKey: .role)
        createdAt = try UnixSeconds.decode(c, .createdAt)
        score = try c.decodeIfPresent(Double.self, forKey: .score) ?? 0
        snippet = try c.decodeIfPresent(String.self, forKey: .snippet) ?? ""
    }
}

/// The answer of `POST /v1/conversations/import`.
public struct ImportCounts: Hashable, Sendable, Decodable {
    public var conversationsImported: Int
    public var conversationsSkipped: Int
    public var messagesImported: Int
    public var messagesSkipped: Int
    /// Notes on what was skipped and why.
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case warnings
        case conversationsImported = "conversations_imported"
        case conversationsSkipped = "conversations_skipped"
        case messagesImported = "messages_imported"
        case messagesSkipped = "messages_skipped"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        conversationsImported = try c.decodeIfPresent(Int.self, forKey: .conversationsImported) ?? 0
        conversationsSkipped = try c.decodeIfPresent(Int.self, forKey: .conversationsSkipped) ?? 0
        messagesImported = try c.decodeIfPresent(Int.self, forKey: .messagesImported) ?? 0
        messagesSkipped = try c.decodeIfPresent(Int.self, forKey: .messagesSkipped) ?? 0
        warnings = try c.decodeIfPresent([String].self, forKey: .warnings) ?? []
    }
}

/// Timestamps on the wire: Unix seconds (a number); ISO 8601 text is accepted too.
enum UnixSeconds {
    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Date {
        if let seconds = try? container.decode(Double.self, forKey: key) {
            return Date(timeIntervalSince1970: seconds)
        }
        let text = try container.decode(String.self, forKey: key)
        guard let date = ISO8601DateFormatter().date(from: text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not a timestamp")
        }
        return date
    }
}
