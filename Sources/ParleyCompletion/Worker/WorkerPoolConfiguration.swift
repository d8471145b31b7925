/// Capacity and queueing of one worker pool. Every field has a default.
public struct WorkerPoolConfiguration: Sendable, Hashable {
    /// Generations that may run at once for a model without an entry in `modelSlots` (default 8).
    public var slotsPerModel: Int {
        willSet { precondition(newValue > 0, "slotsPerModel must be positive") }
    }
    /// Per-model slot counts that override `slotsPerModel` (default none).
    public var modelSlots: [String: Int]
    /// Requests that may wait per model; beyond it a request is refused at once (default 256).
    public var maxQueuedPerModel: Int {
        willSet { precondition(newValue >= 0, "maxQueuedPerModel must not be negative") }
    }
    /// Longest time a request waits for a slot before it is refused with `overloaded` (default 10 s).
    public var maxQueueWait: Duration
    /// Retry hint of a refusal before any generation has finished here (default 1 s). Later hints
    /// come from the measured time a generation holds a slot.
    public var defaultRetryAfter: Duration
    /// How often waiting requests are checked against `maxQueueWait` (default 50 ms).
    public var expiryInterval: Duration
    /// Attempts of one request over the model proxies when a proxy node dies (default 3).
    public var proxyAttempts: Int
    /// Deadline of the call that opens a proxy's stream (default 5 s).
    public var proxyCallTimeout: Duration

    public init(
        slotsPerModel: Int = 8, modelSlots: [String: Int] = [:], maxQueuedPerModel: Int = 256,
        maxQueueWait: Duration = .seconds(10), defaultRetryAfter: Duration = .seconds(1),
        expiryInterval: Duration = .milliseconds(50), proxyAttempts: Int = 3, proxyCallTimeout: Duration = .seconds(5)
    ) {
        precondition(slotsPerModel > 0 && maxQueuedPerModel >= 0 && proxyAttempts > 0, "invalid worker pool limits")
        self.slotsPerModel = slotsPerModel
        self.modelSlots = modelSlots
        self.maxQueuedPerModel = maxQueuedPerModel
        self.maxQueueWait = maxQueueWait
        self.defaultRetryAfter = defaultRetryAfter
        self.expiryInterval = expiryInterval
        self.proxyAttempts = proxyAttempts
        self.proxyCallTimeout = proxyCallTimeout
    }

    /// Slots of `model`.
    public func slots(for model: String) -> Int {
        max(1, modelSlots[model] ?? slotsPerModel)
    }
}
