/// Answer of `POST /v1/conversations/import`: what was added and what was skipped.
public struct ConversationImportResult: Hashable, Sendable, Codable {
    /// Conversations newly created.
    public var conversationsImported: Int
    /// Conversations already present (same source id) or without a `mapping`.
    public var conversationsSkipped: Int
    /// Messages newly stored.
    public var messagesImported: Int
    /// Messages already present, or nodes without a message (roots, hidden system nodes).
    public var messagesSkipped: Int
    /// Human-readable notes on what was skipped and why (no message content).
    public var warnings: [String]

    public init(
        conversationsImported: Int = 0, conversationsSkipped: Int = 0, messagesImported: Int = 0,
        messagesSkipped: Int = 0, warnings: [String] = []
    ) {
        self.conversationsImported = conversationsImported
        self.conversationsSkipped = conversationsSkipped
        self.messagesImported = messagesImported
        self.messagesSkipped = messagesSkipped
        self.warnings = warnings
    }

    enum CodingKeys: String, CodingKey {
        case warnings
        case conversationsImported = "conversations_imported"
        case conversationsSkipped = "conversations_skipped"
        case messagesImported = "messages_imported"
        case messagesSkipped = "messages_skipped"
    }
}
