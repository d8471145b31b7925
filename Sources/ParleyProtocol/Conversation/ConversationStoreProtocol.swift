public import Distributed
import Foundation
public import ParleyCluster

/// A message to append. `parentID` nil means "after the conversation's current leaf"; set it to
/// branch (an edit or a regeneration replies to an earlier message).
public struct MessageDraft: Hashable, Sendable, Codable {
    public var role: MessageRole
    public var content: String
    public var parentID: String?
    /// Make the new message a root (a first message, or an edit of the first message).
    public var asRoot: Bool
    public var model: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var status: MessageStatus
    /// A pre-assigned id, making retries idempotent; nil → a new time-ordered id.
    public var id: String?

    public init(
        role: MessageRole, content: String, parentID: String? = nil, asRoot: Bool = false, model: String? = nil,
        promptTokens: Int? = nil, completionTokens: Int? = nil, status: MessageStatus = .complete, id: String? = nil
    ) {
        self.role = role
        self.content = content
        self.parentID = parentID
        self.asRoot = asRoot
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.status = status
        self.id = id
    }
}

/// The state of one logged generation (the answer being streamed for a request).
public struct GenerationInfo: Hashable, Sendable, Codable {
    public var requestID: String
    public var conversationID: String?
    /// The message the answer replies to.
    public var parentID: String?
    /// Id the finished answer is stored under.
    public var messageID: String
    public var model: String?
    /// `streaming` until finished.
    public var status: MessageStatus
    /// Sequence number of the last logged event; 0 before the first.
    public var lastSeq: Int64

    public init(
        requestID: String, conversationID: String?, parentID: String?, messageID: String, model: String?,
        status: MessageStatus, lastSeq: Int64
    ) {
        self.requestID = requestID
        self.conversationID = conversationID
        self.parentID = parentID
        self.messageID = messageID
        self.model = model
        self.status = status
        self.lastSeq = lastSeq
    }
}

/// One logged piece of a streamed answer: event `seq` (1-based) carries `text`.
public struct GenerationLogEntry: Hashable, Sendable, Codable {
    public var seq: Int64
    public var text: String

    public init(seq: Int64, text: String) {
        self.seq = seq
        self.text = text
    }
}

/// Durable chat history (role `conversation`), registered under `ServiceKeys.conversationStore`.
/// Every operation is scoped by `owner` (the authenticated user): a user never reads, searches or
/// changes another user's conversations. Errors are `ConversationError`s (they cross the wire with
/// their code). Any store node may be called; it routes to the replicas of the owner's partition.
@Resolvable
public protocol ConversationStoreProtocol: DistributedActor where ActorSystem == ClusterSystem {
    distributed func createConversation(owner: String, title: String, model: String?) async throws -> ConversationSummary
    /// The conversation a new chat's request starts: created by the first call, returned as it is
    /// by every later call with the same owner and request id (its id derives from both), so a
    /// resubmitted request never starts a second conversation. `not_found` if it was deleted since.
    distributed func conversationForRequest(owner: String, requestID: String, title: String) async throws
        -> ConversationSummary
    /// Details with all messages of every branch and `current_message_id`.
    distributed func conversation(owner: String, id: String) async throws -> ConversationDetails
    /// The caller's conversations, pinned first, then newest first.
    distributed func listConversations(owner: String, limit: Int?, cursor: String?) async throws
        -> ConversationPage<ConversationSummary>
    distributed func messages(owner: String, conversationID: String, order: MessageOrder, limit: Int?, cursor: String?)
        async throws -> ConversationPage<ConversationMessage>
    /// The visible branch, root first (reads no other branch).
    distributed func visibleBranch(owner: String, conversationID: String) async throws -> [ConversationMessage]
    /// Appends a message; durable (on two replicas when two are alive) when this returns.
    distributed func appendMessage(owner: String, conversationID: String, _ draft: MessageDraft) async throws
        -> ConversationMessage
    distributed func search(owner: String, _ request: ConversationSearchRequest) async throws
        -> ConversationPage<ConversationSearchHit>
    distributed func update(owner: String, id: String, patch: ConversationPatch) async throws -> ConversationSummary
    distributed func deleteConversation(owner: String, id: String) async throws
    /// Imports a ChatGPT export (`conversations.json` bytes); idempotent.
    distributed func importChatGPT(owner: String, json: [UInt8]) async throws -> ConversationImportResult
    /// One conversation in ChatGPT's export format (JSON bytes).
    distributed func exportChatGPT(owner: String, id: String) async throws -> [UInt8]

    // MARK: Generation log

    /// Starts logging the answer of `requestID` (idempotent). With `conversationID`, the finished
    /// answer is stored there replying to `parentID` (default: the current leaf).
    distributed func startGeneration(
        owner: String, requestID: String, conversationID: String?, parentID: String?, model: String?, producer: String
    ) async throws -> GenerationInfo
    /// Stores a turn's start in one write (see ``TurnStart``): a new chat's conversation, the
    /// request's messages and the generation log's start. A request id already started answers
    /// its run with `created: false` and writes nothing.
    distributed func startTurn(owner: String, _ turn: TurnStart) async throws -> TurnStarted
    /// Appends events `fromSeq`, `fromSeq + 1`, …; returns the last logged seq (idempotent for repeats).
    distributed func appendGenerationEvents(owner: String, requestID: String, fromSeq: Int64, texts: [String])
        async throws -> Int64
    /// Events after `afterSeq` (at most `limit`) and the run's state.
    distributed func readGenerationEvents(owner: String, requestID: String, afterSeq: Int64, limit: Int) async throws
        -> GenerationEventsPage
    /// Ends the run and stores the answer (complete, cancelled or interrupted) as a message.
    distributed func finishGeneration(
        owner: String, requestID: String, status: MessageStatus, promptTokens: Int?, completionTokens: Int?
    ) async throws -> ConversationMessage?
    /// Logs `texts` as events `fromSeq`, … (the rules of `appendGenerationEvents`; none when empty),
    /// then ends the run as `finishGeneration` does, in one write.
    distributed func finishGeneration(
        owner: String, requestID: String, appending texts: [String], fromSeq: Int64, status: MessageStatus,
        promptTokens: Int?, completionTokens: Int?
    ) async throws -> ConversationMessage?
    /// Withdraws a turn the model refused before its answer started: its answer and the
    /// `storedMessages` messages the request stored above it are hidden for good (tombstones) and
    /// a current leaf among them moves back to the message the turn followed. Idempotent.
    distributed func withdrawTurn(owner: String, requestID: String, storedMessages: Int) async throws
}

/// A page of the generation log plus the run's state.
public struct GenerationEventsPage: Hashable, Sendable, Codable {
    public var run: GenerationInfo
    public var events: [GenerationLogEntry]

    public init(run: GenerationInfo, events: [GenerationLogEntry]) {
        self.run = run
        self.events = events
    }
}
