public import Logging
public import ParleyCluster
public import ParleyProtocol
import Distributed
import Synchronization

/// Sends a user's rate-limit checks to the shard that owns the user: the first node for the user on
/// the hash ring of the nodes where a ``RateLimiter`` is registered (`ServiceKeys.rateLimiter`).
///
/// When the owner cannot be reached (node down, actor gone, no answer in time) the next node on the
/// ring answers instead; that shard has not seen the user's earlier requests, so the user's limits
/// start fresh there. When no shard is reachable at all the request is allowed (availability beats
/// consistency) and a warning is logged.
public final class RateLimitClient: Sendable {
    private let system: ClusterSystem
    private let logger: Logger
    private let callTimeout: Duration
    private let fallbackLimit: Int
    /// This node's shard, decided on directly while the ring gives it a user.
    private let localShard: RateLimitShard?
    private let cache = Mutex(Cache())

    private struct Cache {
        var ids: [ClusterActorID] = []
        var ring = HashRing(nodes: [])
        var shards: [ClusterNode: any RateLimiterProtocol] = [:]
    }

    /// A shard to ask: this node's (no call) or another node's actor.
    enum Shard {
        case local(RateLimitShard, node: ClusterNode)
        case remote(any RateLimiterProtocol)

        var node: ClusterNode {
            switch self {
            case .local(_, let node): node
            case .remote(let actor): actor.id.node
            }
        }
    }

    /// - Parameters:
    ///   - callTimeout: deadline of one call to a shard (default 1 s); after it the next shard is tried.
    ///   - fallbackLimit: the `limit` reported when no shard answers (default 60).
    ///   - localShard: the limits of this node's registered ``RateLimiter``, used directly for the
    ///     users the ring gives this node.
    package init(
        system: ClusterSystem, logger: Logger, callTimeout: Duration = .seconds(1), fallbackLimit: Int = 60,
        localShard: RateLimitShard? = nil
    ) {
        self.system = system
        self.logger = logger
        self.callTimeout = callTimeout
        self.fallbackLimit = fallbackLimit
        self.localShard = localShard
    }

    /// A client over the shards registered in the cluster.
    public convenience init(system: ClusterSystem, logger: Logger, callTimeout: Duration = .seconds(1), fallbackLimit: Int = 60) {
        self.init(system: system, logger: logger, callTimeout: callTimeout, fallbackLimit: fallbackLimit, localShard: nil)
    }

    /// The shards for `userID` in preference order (owner first).
    func shards(for userID: String) -> [Shard] {
        let ids = system.receptionist.lookup(ServiceKeys.rateLimiter)
        let system = self.system
        return cache.withLock { cache in
            if cache.ids != ids {
                var shards: [ClusterNode: any RateLimiterProtocol] = [:]
                for id in ids where shards[id.node] == nil {
                    let shard = try? system.reference(to: id, as: (any RateLimiterProtocol).self) {
                        try $RateLimiterProtocol.resolve(id: $0, using: system)
                    }
                    if let shard { shards[id.node] = shard }
                }
                cache.ids = ids
                cache.shards = shards
                cache.ring = HashRing(nodes: shards.keys)
            }
            return cache.ring.nodes(for: userID, count: cache.ring.nodes.count).compactMap { node in
                if node == system.node, let localShard { return .local(localShard, node: node) }
                return cache.shards[node].map(Shard.remote)
            }
        }
    }

    /// Counts one request of `userID` on its shard and answers the decision.
    public func acquire(userID: String, requestID: String) async throws -> RateLimitDecision {
        for shard in shards(for: userID) {
            let remote: any RateLimiterProtocol
            switch shard {
            case .local(let local, _): return local.acquire(userID: userID, requestID: requestID)
            case .remote(let actor): remote = actor
            }
            do {
                return try await ClusterSystem.withCallTimeout(callTimeout) {
                    try await remote.acquire(userID: userID, requestID: requestID)
                }
            } catch let error as ClusterError where Self.isUnreachable(error) {
                try Task.checkCancellation()
                logger.warning(
                    "rate limiter shard unreachable, trying the next one",
                    metadata: ["shard.node": "\(remote.id.node)", "error.code": "\(error.code)"])
            }
        }
        logger.warning("no rate limiter shard reachable: request allowed unchecked")
        return RateLimitDecision(allowed: true, limit: fallbackLimit, remaining: fallbackLimit, resetSeconds: 0)
    }

    /// Frees the request's concurrency slot and records its tokens on the user's shard. Never throws:
    /// a lost release only holds a slot until the shard's lease timeout frees it.
    public func release(userID: String, requestID: String, tokens: Int) async {
        for shard in shards(for: userID) {
            let remote: any RateLimiterProtocol
            switch shard {
            case .local(let local, _):
                local.release(userID: userID, requestID: requestID, tokens: tokens)
                return
            case .remote(let actor): remote = actor
            }
            do {
                try await ClusterSystem.withCallTimeout(callTimeout) {
                    try await remote.release(userID: userID, requestID: requestID, tokens: tokens)
                }
                return
            } catch let error as ClusterError where Self.isUnreachable(error) {
                continue
            } catch {
                logger.warning("rate limit release failed", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    /// Errors after which another shard is asked.
    static func isUnreachable(_ error: ClusterError) -> Bool {
        [.nodeDown, .actorNotFound, .timedOut, .shutDown].contains(error.code)
    }
}
