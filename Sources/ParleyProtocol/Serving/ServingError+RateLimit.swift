extension ServingError {
    /// Which per-user limit refused a request.
    public enum RateLimitReason: String, Sendable, CaseIterable {
        /// The requests-per-minute window is full.
        case requests
        /// Too many answers at once.
        case concurrency
        /// Too many tokens generated this minute.
        case tokens

        var detail: String {
            switch self {
            case .requests: "too many requests this minute for this user"
            case .concurrency: "too many answers at once for this user; retry when one has finished"
            case .tokens: "too many tokens generated this minute for this user"
            }
        }
    }

    /// A `rate_limited` refusal. Its message says which limit refused and the requests-per-minute
    /// limit; ``rateLimitRefusal(in:)`` reads both back on the other side of the wire.
    public static func rateLimitRefused(_ reason: RateLimitReason, limit: Int, retryAfterSeconds: Double) -> ServingError {
        ServingError(
            rateLimited, "rate limit reached: \(reason.detail) (limit \(limit) requests per minute)",
            retryAfterSeconds: retryAfterSeconds)
    }

    /// What the message of a `rate_limited` error (made by ``rateLimitRefused(_:limit:retryAfterSeconds:)``)
    /// says: the limit that refused (nil when the message is not one of ours) and the
    /// requests-per-minute limit (the number after its last `limit `).
    public static func rateLimitRefusal(in message: String) -> (reason: RateLimitReason?, limit: Int?) {
        let reason = RateLimitReason.allCases.first { message.contains($0.detail) }
        var limit: Int?
        if let marker = message.ranges(of: "limit ").last {
            limit = Int(message[marker.upperBound...].prefix { $0.isNumber })
        }
        return (reason, limit)
    }
}
