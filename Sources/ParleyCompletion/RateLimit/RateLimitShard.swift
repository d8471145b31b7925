package import ParleyProtocol
import Synchronization

/// One shard's limits, behind a lock: its ``RateLimiter`` actor answers other nodes with it, and
/// the ``RateLimitClient`` of the same node decides for its own requests directly, without a hop
/// to the actor's thread. Idle users are pruned every 4,096 operations.
package final class RateLimitShard: Sendable {
    private struct Guarded {
        var limits: RateLimitState<ContinuousClock.Instant>
        var operationsSincePrune = 0

        mutating func counted<T>(_ now: ContinuousClock.Instant, _ body: (inout RateLimitState<ContinuousClock.Instant>) -> T)
            -> T
        {
            operationsSincePrune += 1
            if operationsSincePrune >= RateLimitShard.pruneEvery {
                operationsSincePrune = 0
                limits.prune(now: now)
            }
            return body(&limits)
        }
    }

    private let guarded: Mutex<Guarded>
    private let clock = ContinuousClock()
    /// Operations between two prunes of idle users.
    static let pruneEvery = 4096

    package init(configuration: RateLimitConfiguration) {
        guarded = Mutex(Guarded(limits: RateLimitState(configuration: configuration)))
    }

    /// See ``RateLimitState/acquire(userID:requestID:now:)``.
    package func acquire(userID: String, requestID: String) -> RateLimitDecision {
        let now = clock.now
        return guarded.withLock { $0.counted(now) { $0.acquire(userID: userID, requestID: requestID, now: now) } }
    }

    /// See ``RateLimitState/release(userID:requestID:tokens:now:)``.
    package func release(userID: String, requestID: String, tokens: Int) {
        let now = clock.now
        guarded.withLock { $0.counted(now) { $0.release(userID: userID, requestID: requestID, tokens: max(0, tokens), now: now) } }
    }

    /// Users with state on this shard.
    package var userCount: Int { guarded.withLock { $0.limits.userCount } }
}
