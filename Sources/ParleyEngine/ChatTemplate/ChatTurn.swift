/// One message of a chat: who said it (`"system"`, `"user"`, `"assistant"`, …) and what.
public struct ChatTurn: Sendable, Codable, Hashable {
    /// The speaker's role, e.g. `"user"`.
    public var role: String
    /// The message text.
    public var content: String

    /// Creates a message.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}
