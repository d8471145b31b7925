public import Distributed
public import Logging
public import ParleyCluster
public import ParleyProtocol

/// A node's inference slots (role `worker`, registered under `ServiceKeys.workerPool`).
///
/// `generate` takes a place for the request at once — a slot, a place in the bounded line, or a
/// refusal with `overloaded` and a retry hint when the line is full — and returns the stream. With
/// a slot free, a ``Worker`` opens the request on a model proxy before `generate` returns (the
/// model starts at once); a request in line waits for its slot when the caller starts reading
/// (refused with `overloaded` after ``WorkerPoolConfiguration/maxQueueWait``), then opens it. The
/// slot is freed when the stream ends, fails or is cancelled, or when its handle is dropped unread.
/// ``WorkerService`` drives the expiry of waiting requests.
public distributed actor WorkerPool: WorkerPoolProtocol {
    public typealias ActorSystem = ClusterSystem

    let scheduler: SlotScheduler
    private let worker: Worker

    /// A pool whose waiting requests never expire unless something calls the scheduler's `expire()`;
    /// run it inside a ``WorkerService``, which does.
    public init(actorSystem: ClusterSystem, configuration: WorkerPoolConfiguration = .init(), logger: Logger) {
        self.init(
            actorSystem: actorSystem, configuration: configuration, scheduler: SlotScheduler(configuration: configuration),
            logger: logger)
    }

    init(actorSystem: ClusterSystem, configuration: WorkerPoolConfiguration, scheduler: SlotScheduler, logger: Logger) {
        self.actorSystem = actorSystem
        self.scheduler = scheduler
        var logger = logger
        logger[metadataKey: "node.role"] = "worker"
        self.worker = Worker(
            system: actorSystem, configuration: configuration, region: actorSystem.settings.region, logger: logger)
    }

    public distributed func generate(_ request: ModelRequest) async throws -> RemoteStream<GenerationEvent> {
        guard !request.model.isEmpty, !request.messages.isEmpty || request.resume != nil else {
            throw ServingError(ServingError.invalidRequest, "a generation needs a model and messages")
        }
        let (ticket, running) = try scheduler.admit(request)
        let lease = SlotLease(scheduler: scheduler, ticket: ticket)
        var source = worker.generate(request).makeAsyncIterator()
        if running {
            // A free slot: the model starts now, while the caller gets ready to read, rather than
            // when its reading task first runs.
            do {
                try await source.open()
            } catch {
                lease.finish()
                throw error
            }
        }
        // The stream only relays the proxy's tokens: relayed on the event loop, without a hand-over
        // per token.
        return actorSystem.makeStream(
            CountedGeneration(
                PooledGeneration(lease: lease, source: OpenedGeneration(source)), activity: actorSystem.activity,
                role: "worker"),
            drainsWhenConsumerIsLost: false, relaysOnEventLoop: true)
    }

    public distributed func status() -> WorkerPoolStatus {
        scheduler.status
    }
}
