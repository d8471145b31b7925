package import ParleyProtocol

/// What the completion service needs from the conversation store: the visible branch of a
/// conversation, appending messages, and the generation log of an answer. Implemented over
/// the conversation role's actor by an adapter; tests may implement it in memory.
package protocol HistoryStore: Sendable {
    /// The messages of the conversation's visible branch, oldest first, and the id of its leaf.
    func visibleBranch(owner: String, conversationID: String) async throws -> StoredBranch

    /// The branch from the conversation's root to `messageID` (inclusive), oldest first; a
    /// `notFound` error when the conversation has no such message.
    func branch(owner: String, conversationID: String, endingAt messageID: String) async throws -> StoredBranch

    /// Appends `message` to the conversation after `parentID` (nil: as a root). Answers where it
    /// was stored. (A new chat's conversation comes from ``conversationForRequest(owner:requestID:title:)``.)
    func appendMessage(
        owner: String, conversationID: String, parentID: String?, message: ChatMessage, model: String?
    ) async throws -> StoredMessageRef

    /// The conversation a new chat's request starts (the same one for every attempt of the
    /// request); answers its id.
    func conversationForRequest(owner: String, requestID: String, title: String) async throws -> String

    /// Stores a first attempt's turn in one write: a new chat's conversation, the request's messages,
    /// the generation log's start (see ``TurnStart``); `created` is false when the request id was
    /// started before (nothing is written then).
    func startTurn(owner: String, _ turn: TurnStart) async throws -> TurnStarted

    /// Starts (or, for a request id already started, returns) the generation log of an answer. With a
    /// conversation, the finished answer is stored there as a reply to `parentID`.
    func startGeneration(
        owner: String, requestID: String, conversationID: String?, parentID: String?, model: String,
        producer: String
    ) async throws -> GenerationLogHandle

    /// Whether the generation log of `requestID` exists: an earlier attempt of a resubmitted request
    /// got as far as starting it (and so had stored the request's turn).
    func generationExists(owner: String, requestID: String) async throws -> Bool

    /// Logs token texts as events `fromSeq`, `fromSeq + 1`, … (event seq = token index + 1).
    func appendGenerationEvents(owner: String, requestID: String, fromSeq: Int64, texts: [String]) async throws

    /// Deletes a new chat whose first request was refused before its answer started (an invalid
    /// request, an unknown model): the client got an error and never its id, so the question and the
    /// empty answer must not stay in the history. Idempotent.
    func discardNewChat(owner: String, conversationID: String) async throws

    /// Withdraws the turn of `requestID` in a chat it continued, refused before its answer started:
    /// its answer and the `storedMessages` messages it stored are hidden for good, and the chat's
    /// visible branch ends where it ended before. Idempotent.
    func withdrawTurn(owner: String, requestID: String, storedMessages: Int) async throws

    /// Logs `texts` as events `fromSeq`, … (none when empty), then ends the log with `status`; with a
    /// conversation, stores the logged answer as its message. One write.
    func finishGeneration(
        owner: String, requestID: String, appending texts: [String], fromSeq: Int64, status: MessageStatus,
        usage: TokenUsage?
    ) async throws
}

/// Finds the conversation store to use for a request; nil when none is reachable (then turns are
/// neither loaded nor stored, and a warning is logged).
package protocol HistoryStoreLocator: Sendable {
    func currentStore() async -> (any HistoryStore)?
}

/// A branch of a conversation: root to leaf.
package struct StoredBranch: Hashable, Sendable {
    package var messages: [ChatMessage]
    /// The last message of the branch; nil for an empty conversation.
    package var leafID: String?

    package init(messages: [ChatMessage], leafID: String?) {
        self.messages = messages
        self.leafID = leafID
    }

    /// The branch that ends at `leafID` among `messages` (each with its id and parent id); nil when
    /// `leafID` is not among them or the parent chain is broken or cyclic.
    package static func walk<Message>(
        to leafID: String, in messages: [Message], id: (Message) -> String, parentID: (Message) -> String?,
        chat: (Message) -> ChatMessage
    ) -> StoredBranch? {
        var byID: [String: Message] = [:]
        for message in messages { byID[id(message)] = message }
        var chain: [ChatMessage] = []
        var next: String? = leafID
        while let current = next {
            guard let message = byID[current], chain.count < messages.count else { return nil }
            chain.append(chat(message))
            next = parentID(message)
        }
        return StoredBranch(messages: chain.reversed(), leafID: leafID)
    }
}

/// Where a message was stored.
package struct StoredMessageRef: Hashable, Sendable {
    package var conversationID: String
    package var messageID: String

    package init(conversationID: String, messageID: String) {
        self.conversationID = conversationID
        self.messageID = messageID
    }
}

/// A started generation log.
package struct GenerationLogHandle: Hashable, Sendable {
    /// The id the answer is (or will be) stored under.
    package var messageID: String
    /// The conversation the answer belongs to, if any.
    package var conversationID: String?
    /// The message the answer replies to.
    package var parentID: String?
    /// Last logged event (0 before the first).
    package var lastSeq: Int64
    /// UTF-8 bytes logged so far.
    package var loggedBytes: Int64

    package init(messageID: String, conversationID: String?, parentID: String?, lastSeq: Int64, loggedBytes: Int64) {
        self.messageID = messageID
        self.conversationID = conversationID
        self.parentID = parentID
        self.lastSeq = lastSeq
        self.loggedBytes = loggedBytes
    }
}
