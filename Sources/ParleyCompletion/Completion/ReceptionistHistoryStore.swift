import ParleyCluster
import ParleyProtocol
import Synchronization

/// Finds conversation stores through the receptionist (`ServiceKeys.conversationStore`), the one on
/// this node first; nil while none is registered.
final class ReceptionistHistoryStoreLocator: HistoryStoreLocator {
    private let system: ClusterSystem
    private let stubs = Mutex<[ClusterActorID: ConversationHistoryStore]>([:])
    /// How long a request waits for the first store's registration while membership lists a live
    /// conversation node.
    private let registrationWait: Duration

    init(system: ClusterSystem, registrationWait: Duration = .seconds(2)) {
        self.system = system
        self.registrationWait = registrationWait
    }

    /// A store, nil when there is none. A node that has just (re)started hears of the stores a
    /// moment after it hears of their nodes: while membership lists a live conversation node, the
    /// request waits for its store's registration (up to `registrationWait`) instead of going on
    /// unstored (or, with an Idempotency-Key, being refused).
    func currentStore() async -> (any HistoryStore)? {
        if store(excluding: []) == nil {
            let conversationNodeAlive = system.members.contains {
                $0.status == .alive && $0.roles.contains(NodeRoles.conversation)
            }
            guard conversationNodeAlive,
                !(await system.receptionist.lookup(ServiceKeys.conversationStore, waitingUpTo: registrationWait)).isEmpty
            else { return nil }
        }
        return FailoverHistoryStore(locator: self)
    }

    /// The preferred store on a node outside `excluded`: this node's, else the first listed.
    func store(excluding excluded: Set<ClusterNode>) -> (node: ClusterNode, store: ConversationHistoryStore)? {
        let system = self.system
        let ids = system.receptionist.lookup(ServiceKeys.conversationStore).filter { !excluded.contains($0.node) }
        guard let id = ids.first(where: { $0.node == system.node }) ?? ids.first else { return nil }
        return stubs.withLock { stubs in
            if let stub = stubs[id] { return (id.node, stub) }
            guard
                let actor = try? system.reference(to: id, as: (any ConversationStoreProtocol).self, remote: {
                    try $ConversationStoreProtocol.resolve(id: $0, using: system)
                })
            else { return nil }
            let stub = ConversationHistoryStore(store: actor)
            if stubs.count > 64 { stubs.removeAll() }
            stubs[id] = stub
            return (id.node, stub)
        }
    }
}

/// ``HistoryStore`` that outlives the conversation node it talks to. Any store forwards to the
/// conversation's replicas, so the generation log — whose writes are idempotent (events by
/// sequence number, one start and one finish per request id) — goes to the next listed store when
/// one cannot be reached, up to `attempts` tries; an answer that finished is then still stored when
/// its store's node died mid-stream. A turn's start is idempotent by request id too. Loading a turn
/// and appending messages use one store, without retries (a retried append whose first try was
/// stored after all would duplicate the message).
struct FailoverHistoryStore: HistoryStore {
    let locator: ReceptionistHistoryStoreLocator
    var attempts = 5
    var backoff: Duration = .milliseconds(200)

    func visibleBranch(owner: String, conversationID: String) async throws -> StoredBranch {
        try await first().visibleBranch(owner: owner, conversationID: conversationID)
    }

    func branch(owner: String, conversationID: String, endingAt messageID: String) async throws -> StoredBranch {
        try await first().branch(owner: owner, conversationID: conversationID, endingAt: messageID)
    }

    func appendMessage(
        owner: String, conversationID: String, parentID: String?, message: ChatMessage, model: String?
    ) async throws -> StoredMessageRef {
        try await first().appendMessage(
            owner: owner, conversationID: conversationID, parentID: parentID, message: message, model: model)
    }

    func conversationForRequest(owner: String, requestID: String, title: String) async throws -> String {
        // Idempotent by request id, so it may go to the next store.
        try await withFailover { store in
            try await store.conversationForRequest(owner: owner, requestID: requestID, title: title)
        }
    }

    func discardNewChat(owner: String, conversationID: String) async throws {
        // A deletion is idempotent, so it may go to the next store.
        try await withFailover { store in try await store.discardNewChat(owner: owner, conversationID: conversationID) }
    }

    func withdrawTurn(owner: String, requestID: String, storedMessages: Int) async throws {
        // Idempotent too.
        try await withFailover { store in
            try await store.withdrawTurn(owner: owner, requestID: requestID, storedMessages: storedMessages)
        }
    }

    func startTurn(owner: String, _ turn: TurnStart) async throws -> TurnStarted {
        // A try that failed to reach its store may have been stored all the same: a later try that
        // finds the run still streaming takes it as its own (the run registry lets one run per
        // request id stream on a completion node), not as a repeated request.
        var retry = false
        return try await withFailover { store in
            defer { retry = true }
            var started = try await store.startTurn(owner: owner, turn)
            if retry && !started.created && started.run.status == .streaming { started.created = true }
            return started
        }
    }

    func startGeneration(
        owner: String, requestID: String, conversationID: String?, parentID: String?, model: String, producer: String
    ) async throws -> GenerationLogHandle {
        try await withFailover { store in
            try await store.startGeneration(
                owner: owner, requestID: requestID, conversationID: conversationID, parentID: parentID, model: model,
                producer: producer)
        }
    }

    func generationExists(owner: String, requestID: String) async throws -> Bool {
        try await withFailover { store in try await store.generationExists(owner: owner, requestID: requestID) }
    }

    func appendGenerationEvents(owner: String, requestID: String, fromSeq: Int64, texts: [String]) async throws {
        try await withFailover { store in
            try await store.appendGenerationEvents(owner: owner, requestID: requestID, fromSeq: fromSeq, texts: texts)
        }
    }

    func finishGeneration(
        owner: String, requestID: String, appending texts: [String], fromSeq: Int64, status: MessageStatus,
        usage: TokenUsage?
    ) async throws {
        try await withFailover { store in
            try await store.finishGeneration(
                owner: owner, requestID: requestID, appending: texts, fromSeq: fromSeq, status: status, usage: usage)
        }
    }

    private func first() throws -> ConversationHistoryStore {
        guard let (_, store) = locator.store(excluding: []) else {
            throw ClusterError(.actorNotFound, "no conversation store is registered")
        }
        return store
    }

    /// Runs `body` against stores until one answers; stores that cannot be reached are skipped (all
    /// of them once every store failed, as a restarted node may be back).
    private func withFailover<T>(_ body: (ConversationHistoryStore) async throws -> T) async throws -> T {
        var failed: Set<ClusterNode> = []
        var lastError: any Error = ClusterError(.actorNotFound, "no conversation store is registered")
        for attempt in 0..<max(1, attempts) {
            if attempt > 0 { try await Task.sleep(for: backoff * attempt) }
            let candidate = locator.store(excluding: failed) ?? locator.store(excluding: [])
            guard let (node, store) = candidate else { continue }
            do {
                return try await body(store)
            } catch let error as ClusterError where RateLimitClient.isUnreachable(error) {
                failed.insert(node)
                lastError = error
            }
        }
        throw lastError
    }
}
