public import Foundation

/// `POST /v1/conversations/search` body.
///
/// Query syntax (ours, never passed raw to the index): words match all of them (AND),
/// `"several words"` is a phrase, `term*` a prefix, `-term` / `-"a phrase"` excludes. Anything
/// else (operators, punctuation, `:`) is treated as word separators. An empty query (or one with
/// only exclusions) answers no hits.
public struct ConversationSearchRequest: Hashable, Sendable, Codable {
    public var query: String
    /// Hits per page; default ``ConversationLimits/defaultPageSize``, clamped to ``ConversationLimits/maxPageSize``.
    public var limit: Int?
    /// `next_cursor` of the previous page.
    public var cursor: String?
    public var filters: ConversationSearchFilters?

    public init(query: String, limit: Int? = nil, cursor: String? = nil, filters: ConversationSearchFilters? = nil) {
        self.query = query
        self.limit = limit
        self.cursor = cursor
        self.filters = filters
    }
}

/// Restricts search hits; every field optional.
public struct ConversationSearchFilters: Hashable, Sendable, Codable {
    /// Messages created at or after this time.
    public var from: Date?
    /// Messages created before this time.
    public var to: Date?
    /// Messages produced by this model.
    public var model: String?
    /// Messages of this role.
    public var role: MessageRole?

    public init(from: Date? = nil, to: Date? = nil, model: String? = nil, role: MessageRole? = nil) {
        self.from = from
        self.to = to
        self.model = model
        self.role = role
    }

    enum CodingKeys: String, CodingKey { case from, to, model, role }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try UnixTime.decodeIfPresent(c, .from)
        to = try UnixTime.decodeIfPresent(c, .to)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        role = try c.decodeIfPresent(MessageRole.self, forKey: .role)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(from.map(UnixTime.seconds), forKey: .from)
        try c.encodeIfPresent(to.map(UnixTime.seconds), forKey: .to)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encodeIfPresent(role, forKey: .role)
    }
}

/// One ranked search hit.
public struct ConversationSearchHit: Hashable, Sendable, Codable {
    public var conversationID: String
    public var messageID: String
    public var role: MessageRole
    public var createdAt: Date
    /// Higher is better: BM25 relevance times a recency boost.
    public var score: Double
    /// A short excerpt, HTML-escaped, the matched terms wrapped in `<mark>…</mark>`.
    public var snippet: String

    public init(
        conversationID: String, messageID: String, role: MessageRole, createdAt: Date, score: Double, snippet: String
    ) {
        self.conversationID = conversationID
        self.messageID = messageID
        self.role = role
        self.createdAt = createdAt
        self.score = score
        self.snippet = snippet
    }

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
        role = try c.decode(MessageRole.self, forKey: .role)
        createdAt = try UnixTime.decode(c, .createdAt)
        score = try c.decode(Double.self, forKey: .score)
        snippet = try c.decode(String.self, forKey: .snippet)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(conversationID, forKey: .conversationID)
        try c.encode(messageID, forKey: .messageID)
        try c.encode(role, forKey: .role)
        try c.encode(UnixTime.seconds(createdAt), forKey: .createdAt)
        try c.encode(score, forKey: .score)
        try c.encode(snippet, forKey: .snippet)
    }
}
