import Distributed
import Foundation
import Logging
public import ParleyCluster
public import ParleyProtocol

/// The `ConversationStore` actor of a `conversation` node: the distributed face of one node's
/// `ConversationDatabase`. Every operation is scoped by the owner; database errors cross the wire
/// as `ConversationError`s with their code. Any store accepts any call: a node that holds no
/// replica of the owner's partition forwards it to one that does (see ``ReplicaRouter``).
public distributed actor ConversationStore: ConversationStoreProtocol {
    public typealias ActorSystem = ClusterSystem

    /// Well-known path of the store on every conversation node (calls are forwarded there).
    package static let path = "/user/conversation-store"

    let database: ConversationDatabase
    let router: ReplicaRouter

    package init(actorSystem: ClusterSystem, database: ConversationDatabase, router: ReplicaRouter) {
        self.actorSystem = actorSystem
        self.database = database
        self.router = router
    }

    /// Runs `local` here when this node holds a replica of the owner's partition (or is its
    /// primary, for `primaryOnly` calls), else `remote` on the first replica that answers.
    private func route<T: Sendable>(
        _ owner: String, primaryOnly: Bool = false,
        local: @Sendable () async throws -> T,
        remote: @Sendable ($ConversationStoreProtocol) async throws -> T
    ) async throws -> T {
        if let targets = router.forwardTargets(owner: owner, primaryOnly: primaryOnly) {
            do {
                return try await router.forward(to: targets, storePath: Self.path, remote)
            } catch let error as ClusterError
                where primaryOnly && ReplicaRouter.isTransportFailure(error) && router.isReplica(owner: owner)
            {
                // The primary is unreachable (not yet declared dead): a replica stands in, it has
                // the replicated generation log.
            }
        }
        return try await local()
    }

    /// Like `route`, with the local write replicated before it returns.
    private func routeWrite<T: Sendable>(
        _ owner: String, primaryOnly: Bool = false,
        local: @escaping @Sendable () async throws -> T,
        remote: @Sendable ($ConversationStoreProtocol) async throws -> T
    ) async throws -> T {
        let router = self.router
        return try await route(owner, primaryOnly: primaryOnly, local: { try await router.replicatedWrite(owner: owner, local) }, remote: remote)
    }

    public distributed func createConversation(owner: String, title: String, model: String?) async throws
        -> ConversationSummary
    {
        let database = self.database
        return try await routeWrite(owner) {
            try await database.createConversation(owner: owner, title: title, model: model)
        } remote: {
            try await $0.createConversation(owner: owner, title: title, model: model)
        }
    }


    public distributed func conversationForRequest(owner: String, requestID: String, title: String) async throws
        -> ConversationSummary
    {
        let database = self.database
        return try await routeWrite(owner) {
            try await database.conversationForRequest(owner: owner, requestID: requestID, title: title)
        } remote: {
            try await $0.conversationForRequest(owner: owner, requestID: requestID, title: title)
        }
    }

    public distributed func conversation(owner: String, id: String) async throws -> ConversationDetails {
        let database = self.database
        let router = self.router
        return try await route(owner) {
            // Read repair: a replica that missed a write fetches it from another one first.
            _ = await router.repairConversation(owner: owner, id: id)
            return try await database.conversation(owner: owner, id: id)
        } remote: {
            try await $0.conversation(owner: owner, id: id)
        }
    }

    public distributed func listConversations(owner: String, limit: Int?, cursor: String?) async throws
        -> ConversationPage<ConversationSummary>
    {
        let database = self.database
        return try await route(owner) {
            try await database.listConversations(owner: owner, limit: limit, cursor: cursor)
        } remote: {
            try await $0.listConversations(owner: owner, limit: limit, cursor: cursor)
        }
    }

    public distributed func messages(
        owner: String, conversationID: String, order: MessageOrder, limit: Int?, cursor: String?
    ) async throws -> ConversationPage<ConversationMessage> {
        let database = self.database
        return try await route(owner) {
            try await database.messages(
                owner: owner, conversationID: conversationID, order: order, limit: limit, cursor: cursor)
        } remote: {
            try await $0.messages(owner: owner, conversationID: conversationID, order: order, limit: limit, cursor: cursor)
        }
    }

    public distributed func visibleBranch(owner: String, conversationID: String) async throws -> [ConversationMessage] {
        let database = self.database
        return try await route(owner) {
            try await database.visibleBranch(owner: owner, conversationID: conversationID)
        } remote: {
            try await $0.visibleBranch(owner: owner, conversationID: conversationID)
        }
    }

    public distributed func appendMessage(owner: String, conversationID: String, _ draft: MessageDraft) async throws
        -> ConversationMessage
    {
        let parent: MessageParent =
            if draft.asRoot { .root } else if let parentID = draft.parentID { .message(parentID) } else { .currentLeaf }
        let new = NewMessage(
            role: draft.role, content: draft.content, parent: parent, model: draft.model,
            promptTokens: draft.promptTokens, completionTokens: draft.completionTokens, status: draft.status,
            id: draft.id)
        let database = self.database
        let router = self.router
        return try await routeWrite(owner) {
            try await Self.repairingConversation(router, owner: owner, id: conversationID) {
                try await database.appendMessage(owner: owner, conversationID: conversationID, new)
            }
        } remote: {
            try await $0.appendMessage(owner: owner, conversationID: conversationID, draft)
        }
    }

    public distributed func search(owner: String, _ request: ConversationSearchRequest) async throws
        -> ConversationPage<ConversationSearchHit>
    {
        let database = self.database
        return try await route(owner) {
            try await database.search(owner: owner, request)
        } remote: {
            try await $0.search(owner: owner, request)
        }
    }

    public distributed func update(owner: String, id: String, patch: ConversationPatch) async throws
        -> ConversationSummary
    {
        let database = self.database
        return try await routeWrite(owner) {
            try await database.update(owner: owner, id: id, patch: patch)
        } remote: {
            try await $0.update(owner: owner, id: id, patch: patch)
        }
    }

    public distributed func deleteConversation(owner: String, id: String) async throws {
        let database = self.database
        try await routeWrite(owner) {
            try await database.deleteConversation(owner: owner, id: id)
        } remote: {
            try await $0.deleteConversation(owner: owner, id: id)
        }
    }

    public distributed func importChatGPT(owner: String, json: [UInt8]) async throws -> ConversationImportResult {
        let database = self.database
        return try await routeWrite(owner) {
            try await database.importChatGPT(owner: owner, json: Data(json))
        } remote: {
            try await $0.importChatGPT(owner: owner, json: json)
        }
    }

    public distributed func exportChatGPT(owner: String, id: String) async throws -> [UInt8] {
        let database = self.database
        return try await route(owner) {
            Array(try await database.exportChatGPT(owner: owner, id: id))
        } remote: {
            try await $0.exportChatGPT(owner: owner, id: id)
        }
    }

    // The generation log is written by the partition's primary replica (a replica stands in while
    // the primary is unreachable) and replicated like messages, so any replica serves a resume.

    public distributed func startGeneration(
        owner: String, requestID: String, conversationID: String?, parentID: String?, model: String?, producer: String
    ) async throws -> GenerationInfo {
        let database = self.database
        let router = self.router
        return try await routeWrite(owner, primaryOnly: true) {
            try await Self.repairingConversation(router, owner: owner, id: conversationID) {
                GenerationInfo(
                    try await database.startGeneration(
                        owner: owner, requestID: requestID, conversationID: conversationID, parentID: parentID,
                        model: model, producer: producer))
            }
        } remote: {
            try await $0.startGeneration(
                owner: owner, requestID: requestID, conversationID: conversationID, parentID: parentID, model: model,
                producer: producer)
        }
    }

    public distributed func startTurn(owner: String, _ turn: TurnStart) async throws -> TurnStarted {
        let database = self.database
        let router = self.router
        return try await routeWrite(owner, primaryOnly: true) {
            try await Self.repairingConversation(router, owner: owner, id: turn.conversationID) {
                let (run, created) = try await database.startTurn(owner: owner, turn)
                return TurnStarted(run: GenerationInfo(run), created: created)
            }
        } remote: {
            try await $0.startTurn(owner: owner, turn)
        }
    }

    public distributed func appendGenerationEvents(owner: String, requestID: String, fromSeq: Int64, texts: [String])
        async throws -> Int64
    {
        let database = self.database
        let router = self.router
        return try await routeWrite(owner, primaryOnly: true) {
            try await Self.repairingGeneration(router, owner: owner, requestID: requestID) {
                try await database.appendGenerationEvents(owner: owner, requestID: requestID, fromSeq: fromSeq, texts)
            }
        } remote: {
            try await $0.appendGenerationEvents(owner: owner, requestID: requestID, fromSeq: fromSeq, texts: texts)
        }
    }

    public distributed func readGenerationEvents(owner: String, requestID: String, afterSeq: Int64, limit: Int)
        async throws -> GenerationEventsPage
    {
        let database = self.database
        let router = self.router
        return try await route(owner) {
            let (run, events) = try await Self.repairingGeneration(router, owner: owner, requestID: requestID) {
                try await database.readGenerationEvents(
                    owner: owner, requestID: requestID, afterSeq: afterSeq, limit: max(1, min(limit, 10_000)))
            }
            return GenerationEventsPage(
                run: GenerationInfo(run), events: events.map { GenerationLogEntry(seq: $0.seq, text: $0.text) })
        } remote: {
            try await $0.readGenerationEvents(owner: owner, requestID: requestID, afterSeq: afterSeq, limit: limit)
        }
    }

    public distributed func finishGeneration(
        owner: String, requestID: String, status: MessageStatus, promptTokens: Int?, completionTokens: Int?
    ) async throws -> ConversationMessage? {
        try await finishGeneration(
            owner: owner, requestID: requestID, appending: [], fromSeq: 1, status: status, promptTokens: promptTokens,
            completionTokens: completionTokens)
    }

    public distributed func finishGeneration(
        owner: String, requestID: String, appending texts: [String], fromSeq: Int64, status: MessageStatus,
        promptTokens: Int?, completionTokens: Int?
    ) async throws -> ConversationMessage? {
        let database = self.database
        let router = self.router
        return try await routeWrite(owner, primaryOnly: true) {
            try await Self.repairingGeneration(router, owner: owner, requestID: requestID) {
                try await database.finishGeneration(
                    owner: owner, requestID: requestID, appending: texts, fromSeq: fromSeq, status: status,
                    promptTokens: promptTokens, completionTokens: completionTokens)
            }
        } remote: {
            try await $0.finishGeneration(
                owner: owner, requestID: requestID, appending: texts, fromSeq: fromSeq, status: status,
                promptTokens: promptTokens, completionTokens: completionTokens)
        }
    }

    public distributed func withdrawTurn(owner: String, requestID: String, storedMessages: Int) async throws {
        let database = self.database
        let router = self.router
        try await routeWrite(owner, primaryOnly: true) {
            try await Self.repairingGeneration(router, owner: owner, requestID: requestID) {
                try await database.withdrawTurn(owner: owner, requestID: requestID, storedMessages: storedMessages)
            }
        } remote: {
            try await $0.withdrawTurn(owner: owner, requestID: requestID, storedMessages: storedMessages)
        }
    }
}

extension ConversationStore {
    /// Runs `body` against this replica's conversation `id` (if any); when it is not found here
    /// (a replica back from a restart may not have it yet), fetches it from the other replicas
    /// and runs `body` again.
    static func repairingConversation<T: Sendable>(
        _ router: ReplicaRouter, owner: String, id: String?, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch let error as ConversationError where error.code == .notFound {
            guard let id, await router.repairConversation(owner: owner, id: id, everyReplica: true) else { throw error }
            return try await body()
        }
    }

    /// Runs `body` against this replica's generation log; when the run is unknown here (this node
    /// was down when it started, or is a primary back from a restart), fetches it from another
    /// replica and runs `body` again.
    static func repairingGeneration<T: Sendable>(
        _ router: ReplicaRouter, owner: String, requestID: String, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch let error as ConversationError where error.code == .notFound {
            guard await router.repairGeneration(owner: owner, requestID: requestID) else { throw error }
            return try await body()
        }
    }
}

extension GenerationInfo {
    init(_ run: GenerationRun) {
        self.init(
            requestID: run.requestID, conversationID: run.conversationID, parentID: run.parentID,
            messageID: run.messageID, model: run.model, status: run.status, lastSeq: run.lastSeq)
    }
}
