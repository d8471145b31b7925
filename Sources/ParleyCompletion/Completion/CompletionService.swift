public import Distributed
public import Logging
public import ParleyCluster
public import ParleyProtocol

/// The lifecycle of chat completions on one node (role `completion`, registered under
/// `ServiceKeys.completion`).
///
/// `complete`:
/// 1. checks the user's rate limit on the user's shard (``RateLimitClient``) — refused with
///    `rate_limited` and a retry hint (not for a resubmission with `resume`, which was counted);
/// 2. with a conversation store reachable: loads the visible branch of `conversationID` and puts it
///    before the request's messages; stores the request's messages (when `store`) and starts the
///    generation log while the worker pool starts the model — no event goes out before they are
///    stored, and a turn that cannot be stored fails the request and cancels the model. With no
///    store reachable the turn is neither loaded nor stored (logged);
/// 3. streams `started`, then every token exactly once, then `finished`, relayed from a worker pool
///    with failover (a pool whose node dies mid-stream is replaced by another that continues after
///    the tokens already sent). `started` is sent together with the first event from the worker
///    pool: a request no pool accepts (every queue full: `overloaded` with a retry hint, no pool:
///    `no_backend`) fails the stream before any event;
/// 4. writes the generation log in batches and the final answer (`complete`, `cancelled` or
///    `interrupted`), then releases the rate-limit slot with the tokens used.
///
/// `cancel` stops the relay, which cancels the stream down to the model; the partial answer is stored
/// as `cancelled`. A caller that stops reading cancels the same way.
public distributed actor CompletionService: CompletionServiceProtocol {
    public typealias ActorSystem = ClusterSystem

    let configuration: CompletionConfiguration
    private let rateLimits: RateLimitClient
    let stores: (any HistoryStoreLocator)?
    let logger: Logger
    let registry = RunRegistry()

    /// A completion service that loads and stores turns through the conversation store registered
    /// under `ServiceKeys.conversationStore` (this node's first), and serves without storing while
    /// none is.
    public init(actorSystem: ClusterSystem, configuration: CompletionConfiguration = .init(), logger: Logger) {
        self.init(
            actorSystem: actorSystem, configuration: configuration,
            stores: ReceptionistHistoryStoreLocator(system: actorSystem), rateLimitShard: nil, logger: logger)
    }

    /// - Parameter rateLimitShard: the limits of this node's ``RateLimiter`` (decided on without a call).
    package init(
        actorSystem: ClusterSystem, configuration: CompletionConfiguration, stores: (any HistoryStoreLocator)?,
        rateLimitShard: RateLimitShard?, logger: Logger
    ) {
        self.actorSystem = actorSystem
        self.configuration = configuration
        self.stores = stores
        var logger = logger
        logger[metadataKey: "node.role"] = "completion"
        self.logger = logger
        self.rateLimits = RateLimitClient(
            system: actorSystem, logger: logger, callTimeout: configuration.rateLimitCallTimeout,
            fallbackLimit: configuration.rateLimits.requestsPerMinute, localShard: rateLimitShard)
        registry.startKeepAliveTicker(every: configuration.logKeepAliveInterval)
    }

    public distributed func complete(_ request: CompletionRequest) async throws -> RemoteStream<CompletionEvent> {
        try Self.validate(request)
        guard registry.reserve(request.requestID, userID: request.userID) else {
            // The same Idempotency-Key sent again while its first request runs here.
            throw ServingError(
                request.idempotent ? ServingError.duplicateRequest : ServingError.invalidRequest,
                "request id \(request.requestID) is already running")
        }
        var acquired = false
        do {
            var decision: RateLimitDecision?
            if request.resume == nil {
                let answer = try await rateLimits.acquire(userID: request.userID, requestID: request.requestID)
                guard answer.allowed else {
                    // The gateway reads the reason and the limit back for the x-ratelimit-* headers.
                    throw ServingError.rateLimitRefused(
                        ServingError.RateLimitReason(rawValue: answer.reason ?? "") ?? .requests, limit: answer.limit,
                        retryAfterSeconds: answer.resetSeconds)
                }
                acquired = true
                decision = answer
            }
            let prepared = try await prepare(request)
            let run = CompletionRun(
                request: request, rateLimit: decision, settle: prepared.settle, events: workerStream(prepared.modelRequest), configuration: configuration, rateLimits: rateLimits,
                registry: registry, activity: actorSystem.activity, logger: logger)
            // A gateway that dies leaves its client to resume through another one from the generation
            // log, so the answer goes on; a client that cancels stops it.
            // The stream relays the pump's events, on the event loop.
            return actorSystem.makeStream(
                await run.start(), drainsWhenConsumerIsLost: prepared.hasStore, relaysOnEventLoop: true)
        } catch {
            registry.remove(request.requestID)
            if acquired { await rateLimits.release(userID: request.userID, requestID: request.requestID, tokens: 0) }
            throw error
        }
    }

    public distributed func cancel(requestID: String, userID: String) -> Bool {
        let found = registry.cancel(requestID, userID: userID)
        if found { logger.info("completion cancelled", metadata: ["request.id": "\(requestID)"]) }
        return found
    }

    /// Requests being relayed by this node.
    public distributed func activeRequests() -> Int {
        registry.count
    }

    /// Cancels every request this node relays (shutdown).
    func cancelAll() {
        registry.cancelAll()
    }

    // MARK: Relay

    /// The worker pools' stream of `request`, with failover between pools.
    private func workerStream(_ request: ModelRequest) -> FailoverStream {
        let system = actorSystem
        return FailoverStream(
            request: request, producerKind: "worker pool", maxAttempts: configuration.workerAttempts,
            backoff: configuration.retryBackoff, openTimeout: configuration.workerCallTimeout, logger: logger,
            candidates: { excluding in
                CandidateOrder.order(
                    system.receptionist.lookup(ServiceKeys.workerPool), local: system.node, key: request.requestID,
                    excluding: excluding)
            },
            open: { id, request in
                let pool = try system.reference(to: id, as: (any WorkerPoolProtocol).self) {
                    try $WorkerPoolProtocol.resolve(id: $0, using: system)
                }
                return try await pool.generate(request)
            })
    }

    static func validate(_ request: CompletionRequest) throws {
        guard !request.requestID.isEmpty, request.requestID.utf8.count <= 128 else {
            throw ServingError(ServingError.invalidRequest, "a request id has 1 to 128 bytes")
        }
        guard !request.userID.isEmpty else { throw ServingError(ServingError.invalidRequest, "no user") }
        guard !request.model.isEmpty else { throw ServingError(ServingError.invalidRequest, "no model") }
        guard !request.messages.isEmpty || request.conversationID != nil else {
            throw ServingError(ServingError.invalidRequest, "a completion needs messages")
        }
        if let parent = request.parentMessageID {
            guard request.conversationID != nil else {
                throw ServingError(ServingError.invalidRequest, "a parent message needs its conversation")
            }
            guard !parent.isEmpty, parent.utf8.count <= 128 else {
                throw ServingError(ServingError.invalidRequest, "a parent message id has 1 to 128 bytes")
            }
        }
        if let resume = request.resume, resume.tokenCount < 0 {
            throw ServingError(ServingError.invalidRequest, "a resume point counts tokens from 0")
        }
    }
}
