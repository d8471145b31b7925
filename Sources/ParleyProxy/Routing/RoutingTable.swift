public import ParleyCluster
public import ParleyProtocol

/// A proxy's knowledge of the model endpoints, as a pure value: the endpoint list (from the
/// receptionist), each endpoint's region (from membership), measurements, circuit breaker and
/// the conversation affinities. Every entry point takes the time as an argument; the caller
/// (``Router``) holds it behind a lock and carries out nothing else.
public struct RoutingTable<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// One endpoint as the table sees it.
    public struct Endpoint: Sendable {
        public let id: ClusterActorID
        /// Models it serves, when known (learned from `models()`).
        public var models: [String] = []
        public var metrics = EndpointMetrics()
        public var breaker: CircuitBreaker<Instant>
    }

    /// How an attempt on an endpoint ended.
    public enum Outcome: Hashable, Sendable {
        /// The stream finished.
        case success
        /// The endpoint failed (an error, its node died, or it broke the protocol).
        case failure
        /// The caller cancelled: says nothing about the endpoint.
        case abandoned
    }

    public let policy: RoutingPolicy
    public let breakerSettings: CircuitBreaker<Instant>.Settings
    /// Most conversations remembered for affinity; the oldest are forgotten first. Default 100,000.
    public let maxAffinities: Int
    public private(set) var endpoints: [ClusterActorID: Endpoint] = [:]
    /// Region of each node (membership); nodes without one are absent.
    private var regions: [ClusterNode: String] = [:]
    /// Nodes seen dead by a stream or call (excluded until they leave the listing).
    private var downNodes: Set<ClusterNode> = []
    private var affinity: [String: (endpoint: ClusterActorID, stamp: UInt64)] = [:]
    private var affinityStamp: UInt64 = 0

    public init(
        policy: RoutingPolicy = .init(), breakerSettings: CircuitBreaker<Instant>.Settings = .init(),
        maxAffinities: Int = 100_000
    ) {
        self.policy = policy
        self.breakerSettings = breakerSettings
        self.maxAffinities = max(1, maxAffinities)
    }

    // MARK: Discovery

    /// The receptionist's current list of endpoints: new ones are added, missing ones dropped.
    public mutating func setListing(_ ids: [ClusterActorID]) {
        let current = Set(ids)
        for id in ids where endpoints[id] == nil { endpoints[id] = newEndpoint(id) }
        for id in endpoints.keys where !current.contains(id) { endpoints[id] = nil }
        let liveNodes = Set(ids.map(\.node))
        downNodes = downNodes.filter { liveNodes.contains($0) }
        affinity = affinity.filter { current.contains($0.value.endpoint) }
    }

    /// Ids in the listing whose models are not known yet.
    public var endpointsWithoutModels: [ClusterActorID] {
        endpoints.values.filter { $0.models.isEmpty }.map(\.id).sorted { $0.description < $1.description }
    }

    public mutating func setModels(_ models: [String], of id: ClusterActorID) {
        endpoints[id]?.models = models
    }

    /// The region of `node` (`nil` when it has none or left membership).
    public mutating func setRegion(_ region: String?, of node: ClusterNode) {
        regions[node] = region
    }

    public func region(of node: ClusterNode) -> String? {
        regions[node]
    }

    /// A stream or call saw `node` die: its endpoints are skipped from now on.
    public mutating func markDown(_ node: ClusterNode) {
        downNodes.insert(node)
    }

    // MARK: Choosing

    /// The endpoints among `candidates` that may take a request now, best first (see
    /// ``RoutingPolicy``), leaving out `excluded`, dead nodes and open breakers. The endpoint that
    /// served `conversationID` last goes first while its score is within the affinity margin of the best.
    public func rank(
        _ candidates: [ClusterActorID], region preferred: String?, conversationID: String?,
        excluding excluded: Set<ClusterActorID> = [], now: Instant
    ) -> [ClusterActorID] {
        let measured = endpoints.values.compactMap { policy.latency($0.metrics) }
        let fallback = measured.isEmpty ? policy.defaultLatencyMillis : measured.reduce(0, +) / Double(measured.count)
        var scored: [(id: ClusterActorID, score: Double)] = []
        for id in Set(candidates) where !excluded.contains(id) && !downNodes.contains(id.node) {
            let endpoint = endpoints[id] ?? newEndpoint(id)
            guard endpoint.breaker.wouldAdmit(now: now) else { continue }
            let halfOpen = if case .closed = endpoint.breaker.state { false } else { true }
            let sameRegion = preferred == nil || regions[id.node] == preferred
            let score = policy.score(
                endpoint.metrics, halfOpen: halfOpen, sameRegion: sameRegion, fallbackLatency: fallback)
            scored.append((id, score))
        }
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.id.description < $1.id.description }
        if let conversationID, let sticky = affinity[conversationID]?.endpoint,
            let position = scored.firstIndex(where: { $0.id == sticky }), position > 0,
            scored[position].score >= (1 - policy.affinityMargin) * scored[0].score
        {
            scored.insert(scored.remove(at: position), at: 0)
        }
        return scored.map(\.id)
    }

    // MARK: Attempts

    /// An attempt on `id` is about to start: asks its breaker; when admitted, counts it in flight.
    public mutating func begin(_ id: ClusterActorID, now: Instant) -> (
        CircuitBreaker<Instant>.Decision, CircuitBreaker<Instant>.Transition?
    ) {
        if endpoints[id] == nil { endpoints[id] = newEndpoint(id) }
        let (decision, transition) = endpoints[id]!.breaker.admit(now: now)
        if decision != .reject { endpoints[id]!.metrics.inFlight += 1 }
        return (decision, transition)
    }

    /// The attempt on `id` received its first token `millis` after the call started.
    public mutating func firstToken(_ id: ClusterActorID, afterMillis millis: Double) {
        endpoints[id]?.metrics.timeToFirstTokenMillis.add(millis)
    }

    /// The attempt on `id` ended. `interTokenMillis` is its mean gap between tokens (when it had two or more);
    /// a success with a `conversationID` makes `id` that conversation's affine endpoint.
    public mutating func end(
        _ id: ClusterActorID, outcome: Outcome, wasProbe: Bool, interTokenMillis: Double?, conversationID: String?,
        now: Instant
    ) -> CircuitBreaker<Instant>.Transition? {
        guard endpoints[id] != nil else { return nil }
        endpoints[id]!.metrics.inFlight = max(0, endpoints[id]!.metrics.inFlight - 1)
        if let interTokenMillis { endpoints[id]!.metrics.interTokenMillis.add(interTokenMillis) }
        switch outcome {
        case .success:
            endpoints[id]!.metrics.errorRate.add(0)
            if let conversationID { remember(conversationID, on: id) }
            return endpoints[id]!.breaker.recordSuccess(now: now)
        case .failure:
            endpoints[id]!.metrics.errorRate.add(1)
            return endpoints[id]!.breaker.recordFailure(now: now)
        case .abandoned:
            if wasProbe { endpoints[id]!.breaker.probeAbandoned() }
            return nil
        }
    }

    /// Every endpoint with its measurements, for `ModelProxy.endpoints()`.
    public func statuses() -> [EndpointStatus] {
        endpoints.values.sorted { $0.id.description < $1.id.description }.map { endpoint in
            EndpointStatus(
                actor: endpoint.id, models: endpoint.models, region: regions[endpoint.id.node] ?? "",
                circuit: endpoint.breaker.state.name, inFlight: endpoint.metrics.inFlight,
                timeToFirstTokenMillis: endpoint.metrics.timeToFirstTokenMillis.value ?? 0,
                interTokenMillis: endpoint.metrics.interTokenMillis.value ?? 0,
                errorRate: endpoint.metrics.errorRate.value ?? 0)
        }
    }

    private func newEndpoint(_ id: ClusterActorID) -> Endpoint {
        Endpoint(id: id, breaker: CircuitBreaker(settings: breakerSettings))
    }

    private mutating func remember(_ conversationID: String, on id: ClusterActorID) {
        affinityStamp += 1
        affinity[conversationID] = (id, affinityStamp)
        guard affinity.count > maxAffinities else { return }
        // Forget the older half at once, so eviction costs O(1) per insertion on average.
        let cutoff = affinity.values.map(\.stamp).sorted()[affinity.count / 2]
        affinity = affinity.filter { $0.value.stamp >= cutoff }
    }
}
