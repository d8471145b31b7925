public import Distributed
public import ParleyCluster

/// The lifecycle of one chat completion (role `completion`): rate limit, history, persistence,
/// worker, stream relay with failover, cancellation.
@Resolvable
public protocol CompletionServiceProtocol: DistributedActor where ActorSystem == ClusterSystem {
    /// Starts (or, with `request.resume`, continues) a completion and streams its events.
    distributed func complete(_ request: CompletionRequest) async throws -> RemoteStream<CompletionEvent>
    /// Stops the request everywhere downstream if this node runs it; true when it did.
    distributed func cancel(requestID: String, userID: String) async throws -> Bool
}

/// Cluster-wide per-user limits (role `completion`, sharded by user over the hash ring).
@Resolvable
public protocol RateLimiterProtocol: DistributedActor where ActorSystem == ClusterSystem {
    /// Counts one request of `userID` and says whether it may run.
    distributed func acquire(userID: String, requestID: String) async throws -> RateLimitDecision
    /// The request ended: frees its concurrency slot and records its tokens.
    distributed func release(userID: String, requestID: String, tokens: Int) async throws
}
