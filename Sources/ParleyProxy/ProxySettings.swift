import ParleyProtocol

/// Settings of a `ModelProxy`; every field has a documented default.
public struct ProxySettings: Sendable {
    /// How endpoints are scored (see ``RoutingPolicy``).
    public var policy: RoutingPolicy
    /// Each endpoint's circuit breaker (see ``CircuitBreaker``).
    public var breaker: CircuitBreaker<ContinuousClock.Instant>.Settings
    /// Endpoints tried for one request, the first included. Default 3.
    public var maxAttempts: Int
    /// Deadline of each `generate` call to an endpoint (until its stream handle arrives). Default 2 s.
    public var callTimeout: Duration
    /// Pause before the third and later attempts (× attempts so far − 1); the first failover is
    /// immediate. Default 50 ms.
    public var retryBackoff: Duration
    /// Deadline of the `models()` call made to each newly seen endpoint. Default 2 s.
    public var discoveryTimeout: Duration
    /// An endpoint that sends nothing for this long — before its first token or between two — while
    /// its node stays alive is treated as failed: the request continues on another endpoint after
    /// the tokens already relayed (a dead node is noticed by membership within seconds instead).
    /// Generous, because an engine may queue a request while its KV cache is full. Default 30 s.
    /// Endpoints on the proxy's own node are read directly, without it: their backends time out on
    /// their own (an upstream's read timeout), and the in-process stream costs no task per token.
    public var stallTimeout: Duration
    /// Before the first token, `stallTimeout` grows by this much per token of prompt (estimated as
    /// a token per 3 bytes of the messages and any resumed text), for a model that sends nothing
    /// while it computes a long prompt (an upstream server). The built-in engine reports its
    /// progress (`GenerationEvent.prompt`), and each report starts the stall timeout again.
    /// Default 10 ms: a prompt of 30,000 bytes (about 10,000 estimated tokens) may take 130 s.
    public var stallAllowancePerPromptToken: Duration = .milliseconds(10)

    /// Creates settings; every argument has the documented default.
    public init(
        policy: RoutingPolicy = .init(), breaker: CircuitBreaker<ContinuousClock.Instant>.Settings = .init(),
        maxAttempts: Int = 3, callTimeout: Duration = .seconds(2), retryBackoff: Duration = .milliseconds(50),
        discoveryTimeout: Duration = .seconds(2), stallTimeout: Duration = .seconds(30)
    ) {
        precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
        self.policy = policy
        self.breaker = breaker
        self.maxAttempts = maxAttempts
        self.callTimeout = callTimeout
        self.retryBackoff = retryBackoff
        self.discoveryTimeout = discoveryTimeout
        self.stallTimeout = stallTimeout
    }
}

extension ProxySettings {
    /// How long an endpoint may send nothing before the first token of `request`: `stallTimeout`
    /// plus `stallAllowancePerPromptToken` per estimated prompt token.
    func firstTokenStallTimeout(for request: ModelRequest) -> Duration {
        let bytes = request.messages.reduce(request.resume?.text.utf8.count ?? 0) { $0 + $1.content.utf8.count }
        return stallTimeout + stallAllowancePerPromptToken * (bytes / 3)
    }
}
