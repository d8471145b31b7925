/// What a completion stream has delivered so far, across every connection it used: decides which
/// events reach the caller so each token arrives exactly once, and counts what the server got wrong.
///
/// Parley numbers a stream's events: `id: 0` is the role chunk, `id: n` the n-th token; the finish
/// and usage chunks have no id. A resume with `Last-Event-ID: n` must restart after `n`. Events
/// with an id at or below the highest seen are duplicates and dropped; an id that jumps ahead
/// counts the skipped ids as missing. Pure value: no I/O.
struct ChatStreamTracker: Sendable, Hashable {
    /// The highest event id delivered; the next resume's `Last-Event-ID`.
    private(set) var lastEventID: Int64?
    /// Events with an id delivered to the caller.
    private(set) var deliveredWithID = 0
    /// Repeated events dropped (a server or resume fault).
    private(set) var duplicatesDropped = 0
    /// Ids skipped by the server (lost tokens).
    private(set) var missingEvents = 0
    /// A finish chunk was delivered (a resume may send it again: drop the repeat).
    private(set) var finishDelivered = false
    private(set) var usageDelivered = false

    /// Whether an event with this id goes to the caller.
    mutating func accept(id: Int64) -> Bool {
        if let lastEventID {
            guard id > lastEventID else {
                duplicatesDropped += 1
                return false
            }
            missingEvents += Int(id - lastEventID - 1)
        } else if id > 0 {
            missingEvents += Int(id)
        }
        lastEventID = id
        deliveredWithID += 1
        return true
    }

    /// Whether a finish chunk goes to the caller.
    mutating func acceptFinish() -> Bool {
        defer { finishDelivered = true }
        return !finishDelivered
    }

    /// Whether a usage chunk goes to the caller.
    mutating func acceptUsage() -> Bool {
        defer { usageDelivered = true }
        return !usageDelivered
    }
}

/// When and where to try resuming a broken stream. Pure value: the caller sleeps and connects.
///
/// Attempt 1 goes to the same gateway at once (a dropped connection); each later attempt goes to
/// the next gateway of the list after an exponential backoff. A resume that delivers anything
/// starts the count again.
struct ResumeSchedule: Sendable, Hashable {
    let policy: ParleyClient.Configuration.Resume
    let gatewayCount: Int
    private(set) var attempts = 0

    init(policy: ParleyClient.Configuration.Resume, gatewayCount: Int) {
        self.policy = policy
        self.gatewayCount = max(1, gatewayCount)
    }

    /// The next attempt after a failure at gateway `current`: which gateway and how long to wait
    /// first, or `nil` when the attempts are used up.
    mutating func nextAttempt(current: Int) -> (gateway: Int, delay: Duration)? {
        guard attempts < policy.maxAttempts else { return nil }
        attempts += 1
        if attempts == 1 { return (current, .zero) }
        let exponent = min(attempts - 2, 20)
        let delay = min(policy.maxBackoff, policy.initialBackoff * (1 << exponent))
        return ((current + 1) % gatewayCount, delay)
    }

    /// The resumed stream delivered an event: later breaks start a fresh series of attempts.
    mutating func progressed() {
        attempts = 0
    }
}
