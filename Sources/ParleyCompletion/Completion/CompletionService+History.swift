import Logging
import ParleyCluster
import ParleyProtocol

/// A request ready to relay: the model's view of it, and the storing of its turn, which runs
/// while the model starts on its first token (``CompletionRun`` awaits it before the first event
/// goes out, so no token reaches the caller before its question is stored).
struct PreparedCompletion: Sendable {
    var modelRequest: ModelRequest
    /// Whether a conversation store was found for the turn.
    var hasStore: Bool
    /// Stores the turn (a new chat's conversation, the request's messages, the generation log's
    /// start). Throws what the caller should see; answers an unstored turn when the store became
    /// unreachable.
    var settle: @Sendable () async throws -> SettledTurn
}

/// Where a turn was stored; settled before the first event goes to the caller.
struct SettledTurn: Sendable {
    /// The conversation the answer goes to (the request's own when it is not stored).
    var conversationID: String?
    /// The stored question and the answer's id; nil when the turn is not stored.
    var userMessageID: String?
    var assistantMessageID: String?
    /// Where the generation log goes; nil when no store is reachable.
    var store: (any HistoryStore)?
    /// Events to log before the first token (a resumed request whose last batch was lost).
    var gapFill: GenerationLogBatcher<ContinuousClock.Instant>.Batch?
    /// This attempt stored a new chat's conversation (deleted again if the request is refused
    /// before its answer starts).
    var startedNewChat = false
}

/// What a turn reads before the model can start: its visible branch.
private struct TurnPlan: Sendable {
    /// The conversation the turn goes to (a new chat's derives from its request id).
    var conversationID: String?
    /// The message the request's first message replies to.
    var parentID: String?
    /// What the model sees: the branch, then the request's messages.
    var messages: [ChatMessage]
}

extension CompletionService {
    /// Loads the conversation's visible branch for the model; the request's messages and the
    /// generation log's start are stored by the returned `settle`, while the model starts (a
    /// resubmission stores them before it returns). Without a reachable store the request goes to
    /// the model as it is and nothing is stored. The request's `instructions` go first, unstored.
    func prepare(_ request: CompletionRequest) async throws -> PreparedCompletion {
        var prepared = try await prepareTurn(request)
        if let instructions = request.instructions {
            // Leading system messages are kept when history has to be left out: counted with the
            // history, the instructions leave as many stored messages droppable as before.
            prepared.modelRequest.messages.insert(ChatMessage(role: "system", content: instructions), at: 0)
            prepared.modelRequest.historyCount += 1
        }
        return prepared
    }

    private func prepareTurn(_ request: CompletionRequest) async throws -> PreparedCompletion {
        let modelRequest = ModelRequest(
            requestID: request.requestID, userID: request.userID, model: request.model, messages: request.messages,
            sampling: request.sampling, priority: request.priority, resume: request.resume,
            conversationID: request.conversationID)
        let unstored = SettledTurn(conversationID: request.conversationID, store: nil, gapFill: nil)
        let asIs = PreparedCompletion(modelRequest: modelRequest, hasStore: false, settle: { unstored })
        guard let store = await stores?.currentStore() else {
            if request.idempotent { throw Self.idempotencyUnchecked }
            if request.store || request.conversationID != nil {
                logger.warning(
                    "no conversation store reachable: the turn is neither loaded nor stored",
                    metadata: ["request.id": "\(request.requestID)"])
            }
            return asIs
        }
        let (producer, timeout, logger) = (actorSystem.node.name, configuration.storeCallTimeout, logger)
        /// The store became unreachable: the turn goes on unstored, unless its key needs checking.
        @Sendable func goUnstored(after error: ClusterError) throws {
            if request.idempotent { throw Self.idempotencyUnchecked }
            logger.warning(
                "conversation store unreachable: the turn is not stored",
                metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
        }
        do {
            if request.resume != nil {
                // A resubmission first finds out how far its earlier attempt got; rare, so in order.
                let (resumed, settled) = try await ClusterSystem.withCallTimeout(timeout) {
                    try await Self.loadResumed(request, modelRequest: modelRequest, from: store, producer: producer)
                }
                return PreparedCompletion(modelRequest: resumed, hasStore: true, settle: { settled })
            }
            let plan = try await Self.readTurn(request, from: store, timeout: timeout)
            var planned = modelRequest
            planned.messages = plan.messages
            planned.historyCount = plan.messages.count - request.messages.count
            planned.conversationID = plan.conversationID
            return PreparedCompletion(modelRequest: planned, hasStore: true) {
                do {
                    return try await ClusterSystem.withCallTimeout(timeout) {
                        try await Self.storeTurn(request, plan, in: store, producer: producer)
                    }
                } catch let error as ClusterError where RateLimitClient.isUnreachable(error) {
                    try goUnstored(after: error)
                    return unstored
                }
            }
        } catch let error as ClusterError where RateLimitClient.isUnreachable(error) {
            try goUnstored(after: error)
            return asIs
        }
    }

    /// A request with an Idempotency-Key is not run while no store can tell whether it ran before.
    private static var idempotencyUnchecked: ServingError {
        ServingError(
            ServingError.storeUnavailable, "the conversation store is unreachable, so the Idempotency-Key cannot be checked",
            retryAfterSeconds: 1)
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

    /// The branch the request continues: the visible one, the one ending at its parent message, or
    /// none (`startsAtRoot`).
    private static func branch(of request: CompletionRequest, conversationID: String, in store: any HistoryStore)
        async throws -> StoredBranch
    {
        if request.startsAtRoot { return StoredBranch(messages: [], leafID: nil) }
        if let parent = request.parentMessageID {
            return try await store.branch(owner: request.userID, conversationID: conversationID, endingAt: parent)
        }
        return try await store.visibleBranch(owner: request.userID, conversationID: conversationID)
    }

    /// The reads of a first attempt: the branch it continues, or (no reads) a new chat's
    /// conversation id.
    private static func readTurn(_ request: CompletionRequest, from store: any HistoryStore, timeout: Duration)
        async throws -> TurnPlan
    {
        guard let id = request.conversationID else {
            let conversationID =
                request.store ? DeterministicID.forChatRequest(owner: request.userID, requestID: request.requestID) : nil
            return TurnPlan(conversationID: conversationID, parentID: nil, messages: request.messages)
        }
        let branch = try await ClusterSystem.withCallTimeout(timeout) {
            try await Self.branch(of: request, conversationID: id, in: store)
        }
        return TurnPlan(conversationID: id, parentID: branch.leafID, messages: branch.messages + request.messages)
    }

    /// The writes of a first attempt, in one store call: a new chat's conversation, the request's
    /// messages (when `store`), the generation log's start. A request id started before is refused
    /// with `duplicate_request` (a client repeating its `Idempotency-Key`).
    private static func storeTurn(_ request: CompletionRequest, _ plan: TurnPlan, in store: any HistoryStore, producer: String)
        async throws -> SettledTurn
    {
        let turn = TurnStart(
            requestID: request.requestID, conversationID: request.store ? request.conversationID : nil,
            newChatTitle: request.store && request.conversationID == nil ? ChatTitle.derived(from: request.messages) : nil,
            parentID: plan.parentID,
            messages: request.store
                ? request.messages.map { MessageDraft(role: MessageRole(rawValue: $0.role), content: $0.content) } : [],
            model: request.model, producer: producer)
        let started = try await store.startTurn(owner: request.userID, turn)
        guard started.created else {
            throw ServingError(
                ServingError.duplicateRequest,
                "a request with this id was already made; its answer streams from "
                    + "GET /v1/chat/completions/\(request.requestID)/stream")
        }
        return SettledTurn(
            conversationID: request.store ? started.run.conversationID : request.conversationID,
            userMessageID: request.store ? started.run.parentID : nil,
            assistantMessageID: request.store ? started.run.messageID : nil, store: store, gapFill: nil,
            startedNewChat: request.store && request.conversationID == nil)
    }

    /// A resubmission: finds out whether its earlier attempt stored the turn and started the log,
    /// stores what is missing and continues the log after what the caller already received.
    private static func loadResumed(
        _ request: CompletionRequest, modelRequest: ModelRequest, from store: any HistoryStore, producer: String
    ) async throws -> (ModelRequest, SettledTurn) {
        let owner = request.userID
        var modelRequest = modelRequest
        // An earlier attempt that got as far as starting the generation log had stored the turn; one
        // that died before that may still have stored the turn (or part of it).
        let turnStored = try await store.generationExists(owner: owner, requestID: request.requestID)
        var conversationID = request.conversationID
        var parentID: String?
        var branchEndsWithTurn = false
        func endsWithTurn(_ branch: StoredBranch) -> Bool {
            !request.messages.isEmpty && branch.messages.suffix(request.messages.count) == request.messages[...]
        }
        if let id = conversationID {
            let branch = try await branch(of: request, conversationID: id, in: store)
            parentID = branch.leafID
            branchEndsWithTurn = endsWithTurn(branch)
            modelRequest.messages = branchEndsWithTurn ? branch.messages : branch.messages + request.messages
            modelRequest.historyCount = modelRequest.messages.count - request.messages.count
        }
        let fresh = request.conversationID == nil
        if fresh && request.store && !turnStored {
            // A new chat's conversation id derives from the request id, so a resubmission whose first
            // attempt stored the turn and died before starting the log continues in that
            // conversation instead of leaving it behind with a lone question.
            let id = try await store.conversationForRequest(
                owner: owner, requestID: request.requestID, title: ChatTitle.derived(from: request.messages))
            conversationID = id
            let branch = try await retryingFresh(true) { try await store.visibleBranch(owner: owner, conversationID: id) }
            parentID = branch.leafID
            branchEndsWithTurn = endsWithTurn(branch)
        }
        var userMessageID: String?
        if request.store && (turnStored || branchEndsWithTurn) {
            userMessageID = parentID
        } else if request.store, let id = conversationID {
            parentID = try await appendMessages(of: request, to: id, after: parentID, in: store, fresh: fresh)
            userMessageID = parentID
        }
        let handle = try await startLog(
            request, conversationID: request.store ? conversationID : nil, parentID: parentID, in: store,
            producer: producer, fresh: fresh)
        if turnStored {
            userMessageID = handle.parentID
            conversationID = handle.conversationID ?? conversationID
        }
        let gapFill = request.resume.flatMap { resume in
            GenerationLogBatcher<ContinuousClock.Instant>.gapFill(
                lastSeq: handle.lastSeq, loggedBytes: handle.loggedBytes, resumeTokens: resume.tokenCount,
                resumeText: resume.text)
        }
        modelRequest.conversationID = conversationID
        let settled = SettledTurn(
            conversationID: request.store ? conversationID : request.conversationID,
            userMessageID: request.store ? userMessageID : nil,
            assistantMessageID: request.store ? handle.messageID : nil, store: store, gapFill: gapFill)
        return (modelRequest, settled)
    }

    /// Appends the request's messages in order after `parentID`; answers the last one's id.
    private static func appendMessages(
        of request: CompletionRequest, to conversationID: String, after parentID: String?, in store: any HistoryStore,
        fresh: Bool
    ) async throws -> String? {
        var parentID = parentID
        for message in request.messages {
            let parent = parentID
            parentID = try await retryingFresh(fresh) {
                try await store.appendMessage(
                    owner: request.userID, conversationID: conversationID, parentID: parent, message: message, model: nil)
            }.messageID
        }
        return parentID
    }

    private static func startLog(
        _ request: CompletionRequest, conversationID: String?, parentID: String?, in store: any HistoryStore,
        producer: String, fresh: Bool
    ) async throws -> GenerationLogHandle {
        try await retryingFresh(fresh && conversationID != nil) {
            try await store.startGeneration(
                owner: request.userID, requestID: request.requestID, conversationID: conversationID,
                parentID: parentID, model: request.model, producer: producer)
        }
    }
}
