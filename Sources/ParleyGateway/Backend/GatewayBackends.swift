public import ParleyCluster
import ParleyProtocol

/// What the HTTP handlers need from the completion side of the cluster. Production:
/// ``ClusterCompletionBackend``; tests may script it.
protocol CompletionBackend: Sendable {
    /// The completion's events, started by the first `next()`; the first event is `.started` (or
    /// the call's error). Dropping the iterator or cancelling the task that reads it cancels the
    /// generation.
    func complete(_ request: CompletionRequest) -> EventIterator
    /// Cancels `requestID` wherever it runs; true when some node stopped it.
    func cancel(requestID: String, userID: String) async throws -> Bool
    /// Models some live model API node serves.
    func models() async throws -> [ModelInfo]
}

/// What the conversation endpoints and the stream resume need. Every call carries the
/// authenticated user as `owner`. Production: ``ClusterConversationBackend``.
protocol ConversationBackend: Sendable {
    func list(owner: String, limit: Int?, cursor: String?) async throws -> ConversationPage<ConversationSummary>
    func conversation(owner: String, id: String) async throws -> ConversationDetails
    func messages(owner: String, conversationID: String, order: MessageOrder, limit: Int?, cursor: String?)
        async throws -> ConversationPage<ConversationMessage>
    func search(owner: String, _ request: ConversationSearchRequest) async throws
        -> ConversationPage<ConversationSearchHit>
    func update(owner: String, id: String, patch: ConversationPatch) async throws -> ConversationSummary
    func delete(owner: String, id: String) async throws
    func importChatGPT(owner: String, json: [UInt8]) async throws -> ConversationImportResult
    func exportChatGPT(owner: String, id: String) async throws -> [UInt8]
    func generationEvents(owner: String, requestID: String, afterSeq: Int64, limit: Int) async throws
        -> GenerationEventsPage
}

/// What `/healthz`, `/readyz` and `/v1/cluster` show.
protocol NodeStatusProvider: Sendable {
    /// This node's name, the members it knows and what each is doing.
    func clusterStatus() async -> ClusterStatus
    /// Joined and able to reach at least one completion node.
    func isReady() -> Bool
}

/// `GET /v1/cluster` and `parley cluster status --json`.
public struct ClusterStatus: Hashable, Sendable, Codable {
    /// One member as this node sees it.
    public struct Member: Hashable, Sendable, Codable {
        public var name: String
        /// `host:port`.
        public var address: String
        public var roles: [String]
        /// `alive`, `suspect`, `dead` or `left`.
        public var status: String
        public var incarnation: UInt64
        public var region: String?
        /// What the node is doing; nil when it did not answer in time (or is dead).
        public var stats: Stats?

        public init(
            name: String, address: String, roles: [String], status: String, incarnation: UInt64, region: String?,
            stats: Stats? = nil
        ) {
            self.name = name
            self.address = address
            self.roles = roles
            self.status = status
            self.incarnation = incarnation
            self.region = region
            self.stats = stats
        }
    }

    /// A member's activity: streams in flight and tokens per second of its busiest role.
    public struct Stats: Hashable, Sendable, Codable {
        public var streamsInFlight: Int
        public var tokensPerSecond: Double

        public init(streamsInFlight: Int, tokensPerSecond: Double) {
            self.streamsInFlight = streamsInFlight
            self.tokensPerSecond = tokensPerSecond
        }

        enum CodingKeys: String, CodingKey {
            case streamsInFlight = "streams_in_flight"
            case tokensPerSecond = "tokens_per_second"
        }
    }

    /// This node's name.
    public var `self`: String
    public var members: [Member]

    public init(self name: String, members: [Member]) {
        self.`self` = name
        self.members = members
    }

    /// The membership as `system` sees it now, with each live member's activity (asked with a short
    /// deadline).
    public init(system: ClusterSystem) async {
        let activities = await system.nodeActivities(timeout: .milliseconds(300))
        self.init(
            self: system.node.name,
            members: system.members.map { member in
                let stats = activities[member.node].map {
                    Stats(streamsInFlight: $0.streamsInFlight, tokensPerSecond: ($0.tokensPerSecond * 10).rounded() / 10)
                }
                return Member(
                    name: member.node.name, address: member.node.address.description, roles: member.roles,
                    status: member.status.rawValue, incarnation: member.incarnation, region: member.region, stats: stats)
            })
    }
}
