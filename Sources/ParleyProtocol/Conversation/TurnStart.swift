import Foundation

/// The first write of a chat turn, made in one transaction (`ConversationStoreProtocol.startTurn`):
/// a new chat's conversation, the request's messages, the generation log's start.
///
/// - `conversationID` nil with `newChatTitle` set: a new chat; its conversation is the one
///   `conversationForRequest` would answer for the owner and request id (created with that title
///   unless it exists). Both nil: the turn is not stored in a conversation (`store: false`); only
///   the generation log starts, and `messages` must be empty.
/// - `messages` are appended in order: the first replies to `parentID` (nil: it is a root), each
///   later one to the one before. Only their role, content and model are used.
/// - The generation log's answer replies to the last appended message (else to `parentID`).
public struct TurnStart: Hashable, Sendable, Codable {
    public var requestID: String
    public var conversationID: String?
    public var newChatTitle: String?
    public var parentID: String?
    public var messages: [MessageDraft]
    /// The model that answers (stored on the run and the answer).
    public var model: String?
    /// The node writing the log (a run whose producer is gone is interrupted).
    public var producer: String

    public init(
        requestID: String, conversationID: String?, newChatTitle: String?, parentID: String?, messages: [MessageDraft],
        model: String?, producer: String
    ) {
        self.requestID = requestID
        self.conversationID = conversationID
        self.newChatTitle = newChatTitle
        self.parentID = parentID
        self.messages = messages
        self.model = model
        self.producer = producer
    }
}

/// What `startTurn` answers: the generation run (its `conversationID`, its `parentID` — the last
/// stored question — and the answer's `messageID`), and whether this call started it. A run that
/// existed already (the same request id was started before: a retried request) is returned as it
/// is, with nothing written.
public struct TurnStarted: Hashable, Sendable, Codable {
    public var run: GenerationInfo
    public var created: Bool

    public init(run: GenerationInfo, created: Bool) {
        self.run = run
        self.created = created
    }
}
