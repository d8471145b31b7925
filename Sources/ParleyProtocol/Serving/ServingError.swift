public import ParleyCluster

/// An error of the serving path whose code the gateway maps to an HTTP status. Crosses the wire
/// with its code and message (it is a `WireError`); callers match on `ClusterError.code`.
public struct ServingError: Error, Hashable, Sendable, CustomStringConvertible, WireError {
    public var code: String
    public var message: String
    /// Seconds after which a retry may succeed (429, 503).
    public var retryAfterSeconds: Double?

    public init(_ code: String, _ message: String, retryAfterSeconds: Double? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var wireCode: String { code }
    public var wireMessage: String {
        retryAfterSeconds.map { "\(message) (retry after \(Int($0.rounded(.up))) s)" } ?? message
    }
    public var description: String { "\(code): \(message)" }

    /// The serving code `error` carries: a `ServingError`'s own, or a remote one's (it arrives as a
    /// `ClusterError` with that code); nil for any other error.
    public static func code(of error: any Error) -> String? {
        if let error = error as? ServingError { return error.code }
        if let error = error as? ClusterError { return error.code.rawValue }
        return nil
    }

    /// The user exceeded a rate limit (HTTP 429).
    public static let rateLimited = "rate_limited"
    /// No capacity: queue full or wait too long (HTTP 503).
    public static let overloaded = "overloaded"
    /// No live node serves the model (HTTP 404 for unknown models, 503 when none is alive).
    public static let modelNotFound = "model_not_found"
    public static let noBackend = "no_backend"
    /// The request is invalid (HTTP 400).
    public static let invalidRequest = "invalid_request"
    /// The request id is unknown (HTTP 404).
    public static let notFound = "not_found"
    /// The conversation store could not be reached for a request that needs it (HTTP 503).
    public static let storeUnavailable = "store_unavailable"
    /// A request whose id came from a client's `Idempotency-Key` was started before (the gateway
    /// answers from its generation log, or 409 for a non-streaming request).
    public static let duplicateRequest = "duplicate_request"
}
