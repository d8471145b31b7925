/// An exponentially weighted moving average; `nil` until the first sample.
public struct MovingAverage: Hashable, Sendable {
    /// Weight of a new sample, 0...1.
    public let alpha: Double
    public private(set) var value: Double?

    public init(alpha: Double) {
        self.alpha = alpha
    }

    public mutating func add(_ sample: Double) {
        value = value.map { $0 + alpha * (sample - $0) } ?? sample
    }
}

/// What a proxy has measured about one endpoint.
public struct EndpointMetrics: Hashable, Sendable {
    /// From the `generate` call until the first token, in milliseconds.
    public var timeToFirstTokenMillis = MovingAverage(alpha: 0.2)
    /// Mean gap between tokens of one stream, in milliseconds.
    public var interTokenMillis = MovingAverage(alpha: 0.2)
    /// Failed attempts as a fraction of finished ones (1 = failed, 0 = succeeded).
    public var errorRate = MovingAverage(alpha: 0.1)
    /// Streams this proxy has open to the endpoint now.
    public var inFlight = 0

    public init() {}
}
