import ParleyCluster
import ParleyProtocol
import Synchronization

/// ``HistoryStore`` over the conversation role's actor (`ConversationStoreProtocol`).
struct ConversationHistoryStore: HistoryStore {
    let store: any ConversationStoreProtocol

    func visibleBranch(owner: String, conversationID: String) async throws -> StoredBranch {
        let messages = try await store.visibleBranch(owner: owner, conversationID: conversationID)
        return StoredBranch(
            messages: messages.map { ChatMessage(role: $0.role.rawValue, content: $0.content) }, leafID: messages.last?.id)
    }

    func branch(owner: String, conversationID: String, endingAt messageID: String) async throws -> StoredBranch {
        let details = try await store.conversation(owner: owner, id: conversationID)
        guard
            let branch = StoredBranch.walk(
                to: messageID, in: details.messages, id: \.id, parentID: \.parentID,
                chat: { ChatMessage(role: $0.role.rawValue, content: $0.content) })
        else {
            throw ServingError(ServingError.notFound, "conversation \(conversationID) has no message \(messageID)")
        }
        return branch
    }

    func appendMessage(
        owner: String, conversationID: String, parentID: String?, message: ChatMessage, model: String?
    ) async throws -> StoredMessageRef {
        let draft = MessageDraft(
            role: MessageRole(rawValue: message.role), content: message.content, parentID: parentID,
            asRoot: parentID == nil, model: model)
        let stored = try await store.appendMessage(owner: owner, conversationID: conversationID, draft)
        return StoredMessageRef(conversationID: conversationID, messageID: stored.id)
    }

    func discardNewChat(owner: String, conversationID: String) async throws {
        try await store.deleteConversation(owner: owner, id: conversationID)
    }

    func withdrawTurn(owner: String, requestID: String, storedMessages: Int) async throws {
        try await store.withdrawTurn(owner: owner, requestID: requestID, storedMessages: storedMessages)
    }

    func conversationForRequest(owner: String, requestID: String, title: String) async throws -> String {
        try await store.conversationForRequest(owner: owner, requestID: requestID, title: title).id
    }

    func generationExists(owner: String, requestID: String) async throws -> Bool {
        do {
            _ = try await store.readGenerationEvents(owner: owner, requestID: requestID, afterSeq: 0, limit: 1)
            return true
        } catch let error as ConversationError where error.code == .notFound {
            return false
        } catch let error as ClusterError where error.code.rawValue == ConversationError.Code.notFound.rawValue {
            return false
        }
    }

    func startGeneration(
        owner: String, requestID: String, conversationID: String?, parentID: String?, model: String, producer: String
    ) async throws -> GenerationLogHandle {
        let info = try await store.startGeneration(
            owner: owner, requestID: requestID, conversationID: conversationID, parentID: parentID, model: model,
            producer: producer)
        var loggedBytes: Int64 = 0
        if info.lastSeq > 0 {  // an existing run (a resubmission): count what it logged
            var after: Int64 = 0
            while after < info.lastSeq {
                let page = try await store.readGenerationEvents(
                    owner: owner, requestID: requestID, afterSeq: after, limit: 1000)
                guard let last = page.events.last else { break }
                loggedBytes += page.events.reduce(0) { $0 + Int64($1.text.utf8.count) }
                after = last.seq
            }
        }
        return GenerationLogHandle(
            messageID: info.messageID, conversationID: info.conversationID, parentID: info.parentID,
            lastSeq: info.lastSeq, loggedBytes: loggedBytes)
    }

    func appendGenerationEvents(owner: String, requestID: String, fromSeq: Int64, texts: [String]) async throws {
        _ = try await store.appendGenerationEvents(owner: owner, requestID: requestID, fromSeq: fromSeq, texts: texts)
    }

    func startTurn(owner: String, _ turn: TurnStart) async throws -> TurnStarted {
        try await store.startTurn(owner: owner, turn)
    }

    func finishGeneration(
        owner: String, requestID: String, appending texts: [String], fromSeq: Int64, status: MessageStatus,
        usage: TokenUsage?
    ) async throws {
        _ = try await store.finishGeneration(
            owner: owner, requestID: requestID, appending: texts, fromSeq: fromSeq, status: status,
            promptTokens: usage?.promptTokens, completionTokens: usage?.completionTokens)
    }
}
