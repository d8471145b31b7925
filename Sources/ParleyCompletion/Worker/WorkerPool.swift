public import Distributed
public import Logging
public import ParleyCluster
public import ParleyProtocol

/// A node's inference slots (role `worker`, registered under `ServiceKeys.workerPool`).
///
/// `generate` takes a place for the request at once — a slot, a place in the bounded line, or a
/// refusal with `overloaded` and a retry hint when the line is full — and returns the stream. The
/// stream waits for the slot when the caller starts reading it (refused with `overloaded` after
/// ``WorkerPoolConfiguration/maxQueueWait``), then a ``Worker`` runs the request through a model
/// proxy. The slot is freed when the stream ends, fails or is cancelled, or when its handle is
/// dropped unread. ``WorkerService`` drives the expiry of waiting requests.
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

    public distributed func generate(_ request: ModelRequest) throws -> RemoteStream<GenerationEvent> {
        guard !request.model.isEmpty, !request.messages.isEmpty || request.resume != nil else {
            throw ServingError(ServingError.invalidRequest, "a generation needs a model and messages")
        }
        let lease = SlotLease(scheduler: scheduler, ticket: try scheduler.admit(request))
        return actorSystem.makeStream(PooledGeneration(lease: lease, source: worker.generate(request)))
    }

    public distributed func status() -> WorkerPoolStatus {
        scheduler.status
    }
}

/// A ticket of the pool's scheduler; finishing it frees the slot. Finished at the latest when the
/// last holder lets go, so an abandoned stream handle cannot keep a slot.
final class SlotLease: Sendable {
    let scheduler: SlotScheduler
    let ticket: SlotScheduler.Ticket

    init(scheduler: SlotScheduler, ticket: SlotScheduler.Ticket) {
        self.scheduler = scheduler
        self.ticket = ticket
    }

    func finish() { scheduler.finish(ticket) }

    deinit { scheduler.finish(ticket) }
}

/// A generation that first waits for its slot, then yields the source's events; the slot is freed
/// when the source ends or fails and when the iterator goes away (cancellation).
struct PooledGeneration: AsyncSequence, Sendable {
    typealias Element = GenerationEvent
    typealias Failure = any Error

    let lease: SlotLease
    let source: FailoverStream

    func makeAsyncIterator() -> Iterator {
        Iterator(lease: lease, source: source.makeAsyncIterator())
    }

    struct Iterator: AsyncIteratorProtocol {
        let lease: SlotLease
        var source: FailoverStream.Iterator
        var started = false
        var ended = false

        mutating func next() async throws -> GenerationEvent? {
            guard !ended else { return nil }
            do {
                if !started {
                    try await lease.scheduler.waitForSlot(lease.ticket)
                    started = true
                }
                guard let event = try await source.next() else {
                    end()
                    return nil
                }
                return event
            } catch {
                end()
                throw error
            }
        }

        private mutating func end() {
            ended = true
            lease.finish()
        }
    }
}
