import Distributed
public import Logging
public import ParleyCluster
import ParleyProtocol
public import ServiceLifecycle

/// The `completion` role of a node as a `Service`: hosts a ``CompletionService`` (registered under
/// `ServiceKeys.completion`) and this node's ``RateLimiter`` shard (under `ServiceKeys.rateLimiter`).
///
/// On graceful shutdown both are removed from the receptionist, so gateways and rate-limit clients
/// turn to other nodes; streams still in flight are cancelled when the service is cancelled (their
/// gateways resubmit them elsewhere with a resume point).
public final class CompletionRoleService: Service, Sendable {
    /// The hosted completion service (kept alive by this service).
    public let completion: CompletionService
    /// This node's rate-limit shard (kept alive by this service).
    public let rateLimiter: RateLimiter
    private let system: ClusterSystem
    /// The pending registration of `completion` (until a worker pool is known).
    private let registration: Task<Void, Never>?

    /// The completion role; it loads and stores turns through the conversation store registered under
    /// `ServiceKeys.conversationStore` (this node's first), and serves without storing while none is.
    public convenience init(system: ClusterSystem, configuration: CompletionConfiguration = .init(), logger: Logger) {
        self.init(
            system: system, configuration: configuration, stores: ReceptionistHistoryStoreLocator(system: system),
            logger: logger)
    }

    package init(
        system: ClusterSystem, configuration: CompletionConfiguration, stores: (any HistoryStoreLocator)?,
        logger: Logger
    ) {
        self.system = system
        // The completion service decides for the users of this node's shard without a hop.
        let shard = RateLimitShard(configuration: configuration.rateLimits)
        self.rateLimiter = RateLimiter(actorSystem: system, shard: shard)
        self.completion = CompletionService(
            actorSystem: system, configuration: configuration, stores: stores, rateLimitShard: shard, logger: logger)
        system.receptionist.register(rateLimiter, key: ServiceKeys.rateLimiter)
        self.registration = system.receptionist.register(
            completion, key: ServiceKeys.completion, once: ServiceKeys.workerPool)
    }

    public func run() async throws {
        let cancelled: Bool
        do {
            try await gracefulShutdown()
            cancelled = false
        } catch {
            cancelled = true
        }
        registration?.cancel()
        system.receptionist.remove(completion, key: ServiceKeys.completion)
        system.receptionist.remove(rateLimiter, key: ServiceKeys.rateLimiter)
        if cancelled {
            await completion.whenLocal { $0.cancelAll() }
        }
    }
}
