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

    private var state: RateLimitState<ContinuousClock.Instant>
    private var operationsSincePrune = 0
    private let clock = ContinuousClock()

    /// Every operation is a few dictionary updates, so the shard runs on an event loop of the
    /// system: calls arriving there are answered without leaving the thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        actorSystem.eventLoopExecutor.asUnownedSerialExecutor()
    }

    /// Operations between two prunes of idle users.
    private static let pruneEvery = 4096

    public init(actorSystem: ClusterSystem, configuration: RateLimitConfiguration = .init()) {
        self.actorSystem = actorSystem
        self.state = RateLimitState(configuration: configuration)
    }

    public distributed func acquire(userID: String, requestID: String) -> RateLimitDecision {
        let now = clock.now
        countOperation(now: now)
        return state.acquire(userID: userID, requestID: requestID, now: now)
    }

    public distributed func release(userID: String, requestID: String, tokens: Int) {
        let now = clock.now
        countOperation(now: now)
        state.release(userID: userID, requestID: requestID, tokens: max(0, tokens), now: now)
    }

    /// Users with state on this shard (for tests and metrics).
    public distributed func trackedUsers() -> Int {
        state.userCount
    }

    private func countOperation(now: ContinuousClock.Instant) {
        operationsSincePrune += 1
        if operationsSincePrune >= Self.pruneEvery {
            operationsSincePrune = 0
            state.prune(now: now)
        }
    }
}
