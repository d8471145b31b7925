import DequeModule
package import ParleyProtocol

/// Per-user rate limits as a pure value: requests per minute (a sliding window), concurrent
/// generations and tokens per minute (a leaky bucket fed by ``release(userID:requestID:tokens:now:)``).
/// Time is passed in, so tests drive it with a manual clock.
///
/// - Requests: at most `requestsPerMinute` requests are admitted in any 60 s window, so the 61st
///   request within a minute is refused however the 60 before it were spread. A refused request
///   consumes nothing; its retry hint is the time until the oldest admitted request leaves the window.
/// - Concurrency: a user holds one slot per request between acquire and release. A slot not released
///   within ``RateLimitConfiguration/concurrencyLeaseTimeout`` (its completion node died) is freed.
/// - Tokens: released token counts fill a bucket that drains at `tokensPerMinute / 60` per second; a
///   request is refused while the bucket is full.
package struct RateLimitState<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    package let configuration: RateLimitConfiguration
    /// The length of the request window.
    package static var window: Duration { .seconds(60) }

    struct User: Sendable {
        /// Admission times of the requests in the current window, oldest first.
        var recent: Deque<Instant> = []
        /// Requests holding a concurrency slot, with the time they acquired it.
        var holds: [String: Instant] = [:]
        /// Tokens in the bucket at `tokensUpdated`.
        var tokens: Double = 0
        var tokensUpdated: Instant?
    }

    private(set) var users: [String: User] = [:]

    package init(configuration: RateLimitConfiguration) {
        self.configuration = configuration
    }

    /// Number of users with state.
    package var userCount: Int { users.count }

    /// Counts one request of `userID` (unless refused) and takes a concurrency slot for `requestID`.
    /// Acquiring again for a request that already holds a slot answers allowed and counts nothing.
    package mutating func acquire(userID: String, requestID: String, now: Instant) -> RateLimitDecision {
        // The user's record is changed in place (no copy of its window per request).
        Self.acquire(&users[userID, default: User()], requestID: requestID, now: now, configuration: configuration)
    }

    private static func acquire(
        _ user: inout User, requestID: String, now: Instant, configuration: RateLimitConfiguration
    ) -> RateLimitDecision {
        let limit = configuration.requestsPerMinute
        expireHolds(of: &user, now: now, configuration: configuration)
        while let oldest = user.recent.first, oldest.advanced(by: window) <= now { user.recent.removeFirst() }
        /// Seconds until the oldest request in the window leaves it (0 for an empty window).
        func reset() -> Double {
            user.recent.first.map { seconds(now.duration(to: $0.advanced(by: window))) } ?? 0
        }

        if user.holds[requestID] != nil {
            return RateLimitDecision(
                allowed: true, limit: limit, remaining: max(0, limit - user.recent.count), resetSeconds: reset())
        }
        let remaining = max(0, limit - user.recent.count)
        if let perMinute = configuration.tokensPerMinute {
            drainTokens(of: &user, now: now, perMinute: perMinute)
            if user.tokens >= Double(perMinute) {
                let rate = Double(perMinute) / 60
                let wait = max(0.001, (user.tokens - Double(perMinute) + 1) / rate)
                return RateLimitDecision(
                    allowed: false, limit: limit, remaining: remaining, resetSeconds: wait, reason: ServingError.RateLimitReason.tokens.rawValue)
            }
        }
        if user.holds.count >= configuration.concurrentRequests {
            return RateLimitDecision(
                allowed: false, limit: limit, remaining: remaining,
                resetSeconds: seconds(configuration.concurrencyRetryAfter), reason: ServingError.RateLimitReason.concurrency.rawValue)
        }
        guard user.recent.count < limit else {
            return RateLimitDecision(allowed: false, limit: limit, remaining: 0, resetSeconds: reset(), reason: ServingError.RateLimitReason.requests.rawValue)
        }
        user.recent.append(now)
        user.holds[requestID] = now
        return RateLimitDecision(allowed: true, limit: limit, remaining: limit - user.recent.count, resetSeconds: reset())
    }

    /// The request ended: frees its slot (if it holds one) and adds its tokens to the user's bucket.
    /// Releasing twice frees once but counts the tokens twice, so callers release once.
    package mutating func release(userID: String, requestID: String, tokens: Int, now: Instant) {
        guard users[userID] != nil else {
            guard tokens > 0, configuration.tokensPerMinute != nil else { return }
            users[userID] = User(tokens: Double(tokens), tokensUpdated: now)
            return
        }
        let perMinute = configuration.tokensPerMinute
        Self.release(&users[userID, default: User()], requestID: requestID, tokens: tokens, now: now, perMinute: perMinute)
    }

    private static func release(_ user: inout User, requestID: String, tokens: Int, now: Instant, perMinute: Int?) {
        user.holds[requestID] = nil
        if let perMinute, tokens > 0 {
            drainTokens(of: &user, now: now, perMinute: perMinute)
            user.tokens += Double(tokens)
        }
    }

    /// Forgets users whose state no longer limits anything (no slot held, request bucket and token
    /// bucket empty): the state stays proportional to the users active in the last minute.
    package mutating func prune(now: Instant) {
        users = users.filter { _, user in
            if !user.holds.isEmpty { return true }
            if let newest = user.recent.last, newest.advanced(by: Self.window) > now { return true }
            if let perMinute = configuration.tokensPerMinute, user.tokens > 0, let updated = user.tokensUpdated {
                let drained = Self.seconds(updated.duration(to: now)) * Double(perMinute) / 60
                return user.tokens - drained > 0
            }
            return false
        }
    }

    /// Frees slots held longer than the lease; only looked at when the user is at the limit.
    private static func expireHolds(of user: inout User, now: Instant, configuration: RateLimitConfiguration) {
        guard user.holds.count >= configuration.concurrentRequests else { return }
        let timeout = configuration.concurrencyLeaseTimeout
        user.holds = user.holds.filter { $0.value.duration(to: now) < timeout }
    }

    private static func drainTokens(of user: inout User, now: Instant, perMinute: Int) {
        if let updated = user.tokensUpdated, updated < now {
            let drained = Self.seconds(updated.duration(to: now)) * Double(perMinute) / 60
            user.tokens = max(0, user.tokens - drained)
        }
        user.tokensUpdated = now
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return max(0, Double(seconds) + Double(attoseconds) / 1e18)
    }
}
