/// Settings of the `completion` role: rate limits, failover, timeouts and generation-log batching.
/// Every field has a default.
public struct CompletionConfiguration: Sendable, Hashable {
    /// Per-user limits of the rate limiter shard this node hosts (defaults: 60 requests per minute,
    /// 4 concurrent, 200,000 tokens per minute).
    public var rateLimits: RateLimitConfiguration
    /// Worker pools to try for one request when pools die mid-stream or are full (default 3).
    public var workerAttempts: Int {
        willSet { precondition(newValue > 0, "workerAttempts must be positive") }
    }
    /// Pause before the n-th resubmission, times n (default 50 ms).
    public var retryBackoff: Duration
    /// Deadline of the call that opens a worker pool's stream (default 5 s).
    public var workerCallTimeout: Duration
    /// Deadline of one call to a rate limiter shard; then the next shard is asked (default 1 s).
    public var rateLimitCallTimeout: Duration
    /// Deadline of one call to the conversation store (default 3 s).
    public var storeCallTimeout: Duration
    /// Largest number of tokens per generation-log write (default 32).
    public var logBatchTokens: Int
    /// Longest time a token waits in the generation-log batch, checked as tokens arrive (default 250 ms).
    public var logBatchDelay: Duration
    /// How long an answer the store refused for a passing reason (a full disk, no reachable
    /// replica) is tried again after the caller got it (default 45 s: under the store's orphan
    /// timeout, after which the store ends the run with what was logged).
    public var answerStoreRetryWindow: Duration = .seconds(45)
    /// How often a run that logs nothing (its model still computes a long prompt) tells the store
    /// it is alive, so the store's orphan sweep (a run silent for 60 s) does not end it (default 20 s).
    public var logKeepAliveInterval: Duration = .seconds(20)

    public init(
        rateLimits: RateLimitConfiguration = .init(), workerAttempts: Int = 3, retryBackoff: Duration = .milliseconds(50),
        workerCallTimeout: Duration = .seconds(5), rateLimitCallTimeout: Duration = .seconds(1),
        storeCallTimeout: Duration = .seconds(3), logBatchTokens: Int = 32, logBatchDelay: Duration = .milliseconds(250)
    ) {
        precondition(workerAttempts > 0 && logBatchTokens > 0, "invalid completion configuration")
        self.rateLimits = rateLimits
        self.workerAttempts = workerAttempts
        self.retryBackoff = retryBackoff
        self.workerCallTimeout = workerCallTimeout
        self.rateLimitCallTimeout = rateLimitCallTimeout
        self.storeCallTimeout = storeCallTimeout
        self.logBatchTokens = logBatchTokens
        self.logBatchDelay = logBatchDelay
    }
}
