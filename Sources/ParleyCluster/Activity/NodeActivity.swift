import Synchronization

/// What a node is doing right now, counted by its roles: streams in flight and tokens per second,
/// per role. The cluster view (`GET /v1/cluster`) shows it for every node through ``NodeStats``.
///
/// A stream that passes through several roles of one node is counted once per role; the node's
/// summary takes the busiest role, so an all-in-one node does not count a stream five times.
public final class NodeActivity: Sendable {
    /// Width of the sliding window behind `tokensPerSecond`.
    public static let window: Duration = .seconds(5)
    private static let buckets = 5

    private struct RoleCounters {
        var streams = 0
        /// Tokens per one-second bucket, indexed by second modulo `buckets`.
        var tokens = [Int](repeating: 0, count: NodeActivity.buckets)
        var bucketSeconds = [Int64](repeating: -1, count: NodeActivity.buckets)

        mutating func add(_ count: Int, second: Int64) {
            let slot = Int(second % Int64(NodeActivity.buckets))
            if bucketSeconds[slot] != second {
                bucketSeconds[slot] = second
                tokens[slot] = 0
            }
            tokens[slot] += count
        }
    }

    private let state = Mutex([String: RoleCounters]())
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    public init() {
        origin = clock.now
    }

    /// A stream of `role` began; call ``streamEnded(role:)`` exactly once when it ends.
    public func streamStarted(role: String) {
        state.withLock { $0[role, default: RoleCounters()].streams += 1 }
    }

    /// A stream of `role` ended (finished, failed or cancelled).
    public func streamEnded(role: String) {
        state.withLock { $0[role, default: RoleCounters()].streams -= 1 }
    }

    /// `count` tokens went through `role`.
    public func recordTokens(_ count: Int, role: String) {
        let second = currentSecond()
        // In place: copying the counters out and back would copy both arrays on every token.
        state.withLock { $0[role, default: RoleCounters()].add(count, second: second) }
    }

    /// The counters now.
    public func snapshot() -> NodeActivitySnapshot {
        let second = currentSecond()
        return state.withLock { roles in
            var result: [String: NodeActivitySnapshot.Role] = [:]
            for (name, counters) in roles {
                // Whole seconds only, the current (partial) one excluded.
                var tokens = 0
                for slot in 0..<Self.buckets {
                    let age = second - counters.bucketSeconds[slot]
                    if age >= 1, age <= Int64(Self.buckets) - 1 { tokens += counters.tokens[slot] }
                }
                result[name] = .init(
                    streamsInFlight: max(0, counters.streams),
                    tokensPerSecond: Double(tokens) / Double(Self.buckets - 1))
            }
            return NodeActivitySnapshot(roles: result)
        }
    }

    private func currentSecond() -> Int64 {
        origin.duration(to: clock.now).components.seconds
    }
}

/// ``NodeActivity`` at one moment.
public struct NodeActivitySnapshot: Hashable, Sendable, Codable {
    /// One role's figures.
    public struct Role: Hashable, Sendable, Codable {
        public var streamsInFlight: Int
        /// Tokens per second over the last whole seconds of ``NodeActivity/window``.
        public var tokensPerSecond: Double

        public init(streamsInFlight: Int, tokensPerSecond: Double) {
            self.streamsInFlight = streamsInFlight
            self.tokensPerSecond = tokensPerSecond
        }
    }

    /// By role name.
    public var roles: [String: Role]

    public init(roles: [String: Role]) {
        self.roles = roles
    }

    /// Streams in flight of the busiest role.
    public var streamsInFlight: Int { roles.values.map(\.streamsInFlight).max() ?? 0 }
    /// Tokens per second of the busiest role.
    public var tokensPerSecond: Double { roles.values.map(\.tokensPerSecond).max() ?? 0 }
}
