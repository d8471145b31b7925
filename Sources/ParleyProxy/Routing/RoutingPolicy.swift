/// How a proxy weighs endpoints; every field has a documented default.
///
/// An endpoint's score is `health / (latency × load × region)`, higher is better:
/// - `health` = 1 − its error-rate moving average (at least 0.01), × ``halfOpenHealth`` while its
///   breaker is half-open;
/// - `latency` = expected milliseconds to stream ``expectedTokens`` tokens: time-to-first-token
///   average + `expectedTokens` × inter-token average; an unmeasured endpoint gets the mean of the
///   measured ones (or ``defaultLatencyMillis``), so new endpoints are tried soon;
/// - `load` = 1 + ``loadWeight`` × the streams this proxy has open to it;
/// - `region` = 1 in the caller's region (or when the caller names none), ``remoteRegionPenalty``
///   elsewhere.
public struct RoutingPolicy: Sendable, Hashable {
    /// Tokens of a typical answer, for weighing inter-token time against time to first token. Default 32.
    public var expectedTokens: Double
    /// Latency assumed when no endpoint was measured yet, in milliseconds. Default 100.
    public var defaultLatencyMillis: Double
    /// How much each open stream weighs on an endpoint's score. Default 1.
    public var loadWeight: Double
    /// Score divisor for endpoints outside the caller's region. Default 4.
    public var remoteRegionPenalty: Double
    /// Health factor of an endpoint whose breaker is half-open. Default 0.1.
    public var halfOpenHealth: Double
    /// The next turn of a conversation stays on the endpoint that served the previous one while its
    /// score is at least (1 − margin) × the best score. Default 0.3.
    public var affinityMargin: Double

    /// Creates a policy; every argument has the documented default.
    public init(
        expectedTokens: Double = 32, defaultLatencyMillis: Double = 100, loadWeight: Double = 1,
        remoteRegionPenalty: Double = 4, halfOpenHealth: Double = 0.1, affinityMargin: Double = 0.3
    ) {
        self.expectedTokens = expectedTokens
        self.defaultLatencyMillis = defaultLatencyMillis
        self.loadWeight = loadWeight
        self.remoteRegionPenalty = remoteRegionPenalty
        self.halfOpenHealth = halfOpenHealth
        self.affinityMargin = affinityMargin
    }

    /// The expected latency of an endpoint in milliseconds, `nil` when it was never measured.
    func latency(_ metrics: EndpointMetrics) -> Double? {
        guard let ttft = metrics.timeToFirstTokenMillis.value else { return nil }
        return max(0.01, ttft + expectedTokens * (metrics.interTokenMillis.value ?? 0))
    }

    /// The score of one endpoint (higher is better); `fallbackLatency` stands in for an unmeasured one.
    func score(
        _ metrics: EndpointMetrics, halfOpen: Bool, sameRegion: Bool, fallbackLatency: Double
    ) -> Double {
        let health = max(0.01, 1 - (metrics.errorRate.value ?? 0)) * (halfOpen ? halfOpenHealth : 1)
        let latency = latency(metrics) ?? fallbackLatency
        let load = 1 + loadWeight * Double(metrics.inFlight)
        let region = sameRegion ? 1 : remoteRegionPenalty
        return health / (latency * load * region)
    }
}
