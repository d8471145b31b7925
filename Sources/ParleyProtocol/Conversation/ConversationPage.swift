/// One page of a list answer: `{"object": "list", "data": [...], "next_cursor": …}`.
public struct ConversationPage<Item: Sendable & Codable & Hashable>: Hashable, Sendable, Codable {
    /// Always `"list"`.
    public var object: String = "list"
    public var data: [Item]
    /// Opaque cursor of the next page; `nil` on the last page.
    public var nextCursor: String?

    public init(data: [Item], nextCursor: String?) {
        self.data = data
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case object, data
        case nextCursor = "next_cursor"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Read (and ignore) `object` exactly as `encode(to:)` writes it: positional wire formats
        // depend on the same fields being read in the same order.
        _ = try c.decodeIfPresent(String.self, forKey: .object)
        data = try c.decode([Item].self, forKey: .data)
        nextCursor = try c.decodeIfPresent(String.self, forKey: .nextCursor)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(Optional(object), forKey: .object)
        try c.encode(data, forKey: .data)
        try c.encode(nextCursor, forKey: .nextCursor)
    }
}

/// Order of a message page.
public enum MessageOrder: String, Hashable, Sendable, Codable {
    /// Oldest first (the default).
    case oldestFirst = "asc"
    /// Newest first.
    case newestFirst = "desc"
}
