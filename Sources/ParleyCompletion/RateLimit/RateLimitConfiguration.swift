/// Per-user limits enforced by the rate limiter shards. Every field has a default.
public struct RateLimitConfiguration: Sendable, Hashable {
    /// Requests a user may start in any 60 s window (default 60).
    public var requestsPerMinute: Int {
        willSet { precondition(newValue > 0, "requestsPerMinute must be positive") }
    }
    /// Generations a user may run at the same time (default 4).
    public var concurrentRequests: Int {
        willSet { precondition(newValue > 0, "concurrentRequests must be positive") }
    }
    /// Tokens (prompt + completion, counted when a request ends) a user may use per minute; `nil`
    /// means unlimited (default 200,000).
    public var tokensPerMinute: Int?
    /// A concurrency slot not released within this time is freed (its completion node died without
    /// releasing it). Default 10 minutes.
    public var concurrencyLeaseTimeout: Duration
    /// The retry hint of a refusal for concurrency, when no better one is known (default 1 s).
    public var concurrencyRetryAfter: Duration

    public init(
        requestsPerMinute: Int = 60, concurrentRequests: Int = 4, tokensPerMinute: Int? = 200_000,
        concurrencyLeaseTimeout: Duration = .seconds(600), concurrencyRetryAfter: Duration = .seconds(1)
    ) {
        precondition(requestsPerMinute > 0 && concurrentRequests > 0, "limits must be positive")
        self.requestsPerMinute = requestsPerMinute
        self.concurrentRequests = concurrentRequests
        self.tokensPerMinute = tokensPerMinute
        self.concurrencyLeaseTimeout = concurrencyLeaseTimeout
        self.concurrencyRetryAfter = concurrencyRetryAfter
    }
}
