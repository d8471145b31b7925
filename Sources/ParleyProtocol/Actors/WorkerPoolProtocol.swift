public import Distributed
public import ParleyCluster

/// Occupancy of a worker pool.
public struct WorkerPoolStatus: Hashable, Sendable, Codable {
    public var slots: Int
    public var busy: Int
    public var queued: Int

    public init(slots: Int, busy: Int, queued: Int) {
        self.slots = slots
        self.busy = busy
        self.queued = queued
    }
}

/// Bounded inference slots (role `worker`): a request waits in a priority queue (interactive
/// before batch, fair between users) until a `Worker` is free, or is refused with a
/// `ServingError.overloaded` carrying a retry hint when the queue is full or the wait too long.
@Resolvable
public protocol WorkerPoolProtocol: DistributedActor where ActorSystem == ClusterSystem {
    /// Runs `request` on a worker once one is free, streaming its tokens.
    distributed func generate(_ request: ModelRequest) async throws -> RemoteStream<GenerationEvent>
    distributed func status() async throws -> WorkerPoolStatus
}
