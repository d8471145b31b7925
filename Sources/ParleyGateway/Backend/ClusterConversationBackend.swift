import Distributed
import ParleyCluster
import ParleyProtocol

/// Conversations through a `ConversationStore` actor found by the receptionist (any store node
/// routes to the owner's replicas). Each call is bounded by `callTimeout`; when the chosen node is
/// down, the call is tried once more on another one.
struct ClusterConversationBackend: ConversationBackend {
    let system: ClusterSystem
    let callTimeout: Duration

    private func withStore<T: Sendable>(
        _ body: @Sendable (any ConversationStoreProtocol) async throws -> T
    ) async throws -> T {
        var ids = system.receptionist.lookup(ServiceKeys.conversationStore)
        // This node's own store first, then the others in a stable order.
        ids.sort { ($0.node == system.node ? 0 : 1, $0.description) < ($1.node == system.node ? 0 : 1, $1.description) }
        guard !ids.isEmpty else {
            throw ServingError(ServingError.noBackend, "no conversation node is available", retryAfterSeconds: 1)
        }
        var lastError: (any Error)?
        for id in ids.prefix(2) {
            do {
                let store = try system.reference(to: id, as: (any ConversationStoreProtocol).self) {
                    try $ConversationStoreProtocol.resolve(id: $0, using: system)
                }
                return try await ClusterSystem.withCallTimeout(callTimeout) { try await body(store) }
            } catch let error as ClusterError where error.code == .nodeDown || error.code == .actorNotFound {
                lastError = error
            }
        }
        throw lastError ?? ServingError(ServingError.noBackend, "no conversation node is available")
    }

    func list(owner: String, limit: Int?, cursor: String?) async throws -> ConversationPage<ConversationSummary> {
        try await withStore { try await $0.listConversations(owner: owner, limit: limit, cursor: cursor) }
    }

    func conversation(owner: String, id: String) async throws -> ConversationDetails {
        try await withStore { try await $0.conversation(owner: owner, id: id) }
    }

    func messages(owner: String, conversationID: String, order: MessageOrder, limit: Int?, cursor: String?)
        async throws -> ConversationPage<ConversationMessage>
    {
        try await withStore {
            try await $0.messages(owner: owner, conversationID: conversationID, order: order, limit: limit, cursor: cursor)
        }
    }

    func search(owner: String, _ request: ConversationSearchRequest) async throws
        -> ConversationPage<ConversationSearchHit>
    {
        try await withStore { try await $0.search(owner: owner, request) }
    }

    func update(owner: String, id: String, patch: ConversationPatch) async throws -> ConversationSummary {
        try await withStore { try await $0.update(owner: owner, id: id, patch: patch) }
    }

    func delete(owner: String, id: String) async throws {
        try await withStore { try await $0.deleteConversation(owner: owner, id: id) }
    }

    func importChatGPT(owner: String, json: [UInt8]) async throws -> ConversationImportResult {
        try await withStore { try await $0.importChatGPT(owner: owner, json: json) }
    }

    func exportChatGPT(owner: String, id: String) async throws -> [UInt8] {
        try await withStore { try await $0.exportChatGPT(owner: owner, id: id) }
    }

    func generationEvents(owner: String, requestID: String, afterSeq: Int64, limit: Int) async throws
        -> GenerationEventsPage
    {
        try await withStore {
            try await $0.readGenerationEvents(owner: owner, requestID: requestID, afterSeq: afterSeq, limit: limit)
        }
    }
}
