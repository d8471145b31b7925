public import Distributed
public import ParleyCluster
public import ParleyProtocol

/// One rate-limit shard (role `completion`, registered under `ServiceKeys.rateLimiter`). Each node
/// of the role hosts one; ``RateLimitClient`` sends a user's requests to the shard that owns the
/// user on the hash ring of live shards, so a user's limits hold cluster-wide.
///
/// The state lives in memory only: when a shard's node dies, its users move to the next node on the
/// ring and start there with fresh limits.
public distributed actor RateLimiter: RateLimiterProtocol {
    public typealias ActorSystem = ClusterSystem

    /// The limits; the node's own ``RateLimitClient`` may share them (``RateLimitShard``).
    let shard: RateLimitShard

    /// Every operation is a few dictionary updates, so the shard runs on an event loop of the
    /// system: calls arriving there are answered without leaving the thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        actorSystem.eventLoopExecutor.asUnownedSerialExecutor()
    }

    public init(actorSystem: ClusterSystem, configuration: RateLimitConfiguration = .init()) {
        self.init(actorSystem: actorSystem, shard: RateLimitShard(configuration: configuration))
    }

    /// A shard over `shard`'s limits (shared with this node's ``RateLimitClient``).
    package init(actorSystem: ClusterSystem, shard: RateLimitShard) {
        self.actorSystem = actorSystem
        self.shard = shard
    }

    public distributed func acquire(userID: String, requestID: String) -> RateLimitDecision {
        shard.acquire(userID: userID, requestID: requestID)
    }

    public distributed func release(userID: String, requestID: String, tokens: Int) {
        shard.release(userID: userID, requestID: requestID, tokens: tokens)
    }

    /// Users with state on this shard (for tests and metrics).
    public distributed func trackedUsers() -> Int {
        shard.userCount
    }
}
