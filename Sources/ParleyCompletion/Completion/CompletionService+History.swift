import Logging
import ParleyCluster
import ParleyProtocol

/// A request ready to relay: the model's view of it and where the turn is stored.
struct PreparedCompletion: Sendable {
    var modelRequest: ModelRequest
    var started: CompletionEvent
    var store: (any HistoryStore)?
    var gapFill: GenerationLogBatcher<ContinuousClock.Instant>.Batch?
}

extension CompletionService {
    /// Loads the conversation's visible branch, stores the request's messages and starts the
    /// generation log. Without a reachable store the request goes to the model as it is.
    func prepare(_ request: CompletionRequest) async throws -> PreparedCompletion {
        var prepared = PreparedCompletion(
            modelRequest: ModelRequest(
                requestID: request.requestID, userID: request.userID, model: request.model, messages: request.messages,
                sampling: request.sampling, priority: request.priority, resume: request.resume,
                conversationID: request.conversationID),
            started: .started(conversationID: request.conversationID, userMessageID: nil, assistantMessageID: nil),
            store: nil, gapFill: nil)
        guard let store = stores?.currentStore() else {
            if request.store || request.conversationID != nil {
                logger.warning(
                    "no conversation store reachable: the turn is neither loaded nor stored",
                    metadata: ["request.id": "\(request.requestID)"])
            }
            return prepared
        }
        do {
            let producer = actorSystem.node.name
            let base = prepared
            prepared = try await ClusterSystem.withCallTimeout(configuration.storeCallTimeout) {
                try await Self.load(request, into: base, from: store, producer: producer)
            }
            prepared.store = store
        } catch let error as ClusterError where RateLimitClient.isUnreachable(error) {
            logger.warning(
                "conversation store unreachable: the turn is not stored",
                metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
        }
        return prepared
    }

    /// Runs `body`; when `fresh` and it fails with `not_found`, runs it again (up to 4 times, 250 ms
    /// apart).
    static func retryingFresh<T>(_ fresh: Bool, _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch where fresh && attempt < 4 && isNotFound(error) {
                attempt += 1
                try await Task.sleep(for: .milliseconds(250 * attempt))
            }
        }
    }

    private static func isNotFound(_ error: any Error) -> Bool {
        if let error = error as? ConversationError { return error.code == .notFound }
        if let error = error as? ClusterError { return error.code.rawValue == ConversationError.Code.notFound.rawValue }
        return false
    }

    private static func load(
        _ request: CompletionRequest, into base: PreparedCompletion, from store: any HistoryStore, producer: String
    ) async throws -> PreparedCompletion {
        var prepared = base
        let owner = request.userID
        // A resubmission (`resume` set) whose earlier attempt started the generation log finds its
        // turn stored already; one whose earlier attempt died before that stores the turn itself.
        var turnStored = false
        if request.resume != nil { turnStored = try await store.generationExists(owner: owner, requestID: request.requestID) }
        var conversationID = request.conversationID
        var parentID: String?
        var branchEndsWithTurn = false
        if let id = conversationID {
            let branch =
                if request.startsAtRoot {
                    StoredBranch(messages: [], leafID: nil)
                } else if let parent = request.parentMessageID {
                    try await store.branch(owner: owner, conversationID: id, endingAt: parent)
                } else {
                    try await store.visibleBranch(owner: owner, conversationID: id)
                }
            parentID = branch.leafID
            // A resubmission may find its own user turn stored already (also when the earlier attempt
            // died between storing it and starting the log).
            branchEndsWithTurn =
                request.resume != nil && !request.messages.isEmpty
                && branch.messages.suffix(request.messages.count) == request.messages[...]
            prepared.modelRequest.messages = branchEndsWithTurn ? branch.messages : branch.messages + request.messages
        }
        // A conversation created by this request is on two replicas; while the cluster changes, the
        // next call may reach a third that has not seen it yet and cannot fetch it at once.
        let fresh = request.conversationID == nil
        if fresh && request.store && !turnStored {
            // A new chat's conversation id derives from the request id, so a resubmission whose first
            // attempt stored the turn and died before starting the log continues in that
            // conversation instead of leaving it behind with a lone question.
            let title = String((request.messages.first?.content ?? "").prefix(ConversationHistoryStore.titleLength))
            let id = try await store.conversationForRequest(owner: owner, requestID: request.requestID, title: title)
            conversationID = id
            if request.resume != nil {
                let branch = try await retryingFresh(true) { try await store.visibleBranch(owner: owner, conversationID: id) }
                parentID = branch.leafID
                branchEndsWithTurn =
                    !request.messages.isEmpty && branch.messages.suffix(request.messages.count) == request.messages[...]
            }
        }
        var userMessageID: String?
        if request.store && (turnStored || branchEndsWithTurn) {
            userMessageID = parentID
        } else if request.store, let id = conversationID {
            // `id` is the request's conversation or the one `conversationForRequest` gave above.
            for message in request.messages {
                let parent = parentID
                parentID = try await retryingFresh(fresh) {
                    try await store.appendMessage(owner: owner, conversationID: id, parentID: parent, message: message, model: nil)
                }.messageID
            }
            userMessageID = parentID
        }
        let (runConversation, runParent) = (request.store ? conversationID : nil, parentID)
        let handle = try await retryingFresh(fresh && runConversation != nil) {
            try await store.startGeneration(
                owner: owner, requestID: request.requestID, conversationID: runConversation,
                parentID: runParent, model: request.model, producer: producer)
        }
        if let resume = request.resume {
            if turnStored {
                userMessageID = handle.parentID
                conversationID = handle.conversationID ?? conversationID
            }
            prepared.gapFill = GenerationLogBatcher.gapFill(
                lastSeq: handle.lastSeq, loggedBytes: handle.loggedBytes, resumeTokens: resume.tokenCount,
                resumeText: resume.text)
        }
        prepared.modelRequest.conversationID = conversationID
        prepared.started = .started(
            conversationID: request.store ? conversationID : request.conversationID,
            userMessageID: request.store ? userMessageID : nil,
            assistantMessageID: request.store ? handle.messageID : nil)
        return prepared
    }
}
