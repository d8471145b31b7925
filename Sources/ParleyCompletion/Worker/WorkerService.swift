public import Logging
public import ParleyCluster
import ParleyProtocol
public import ServiceLifecycle

/// The `worker` role of a node as a `Service`: hosts a ``WorkerPool``, registers it under
/// `ServiceKeys.workerPool`, and refuses requests that waited longer than the maximum wait.
/// `run()` returns on graceful shutdown (the pool is removed from the receptionist first, so new
/// requests go elsewhere) or when cancelled.
public final class WorkerService: Service, Sendable {
    /// The hosted pool (kept alive by this service).
    public let pool: WorkerPool
    private let scheduler: SlotScheduler
    private let configuration: WorkerPoolConfiguration
    private let system: ClusterSystem
    /// The pending registration of `pool` (until a model proxy is known).
    private let registration: Task<Void, Never>?

    public init(system: ClusterSystem, configuration: WorkerPoolConfiguration = .init(), logger: Logger) {
        let scheduler = SlotScheduler(configuration: configuration)
        self.system = system
        self.scheduler = scheduler
        self.configuration = configuration
        self.pool = WorkerPool(actorSystem: system, configuration: configuration, scheduler: scheduler, logger: logger)
        self.registration = system.receptionist.register(pool, key: ServiceKeys.workerPool, once: ServiceKeys.modelProxy)
    }

    public func run() async throws {
        let interval = configuration.expiryInterval
        let scheduler = self.scheduler
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { break }
                scheduler.expire()
            }
        }
        registration?.cancel()
        system.receptionist.remove(pool, key: ServiceKeys.workerPool)
    }
}
