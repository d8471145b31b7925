public import Foundation

/// How long the generation logs of finished answers are kept, and when they are pruned. The log
/// serves resumes (`GET …/{request_id}/stream`) and repeats of a request under the same
/// `Idempotency-Key`; an answer's text stays in its conversation for good.
///
/// Every node prunes at the same wall-clock moments (the multiples of `interval` since the Unix
/// epoch) with the same cutoff, so replicas that prune a few seconds apart (clock skew, a busy
/// writer) hold the same runs again as soon as all have pruned. Give every conversation node the
/// same settings: replicas with different cutoffs keep different runs, and their digests never agree.
public struct GenerationLogRetention: Sendable, Hashable {
    /// A finished run's log is kept at least this long after its last change; default 24 hours.
    public var retention: Duration
    /// Pruning happens at the multiples of this; a log lives at most `retention + interval`.
    /// Default: a quarter of the retention, between 1 second and 10 minutes.
    public var interval: Duration

    public init(retention: Duration = .seconds(86_400), interval: Duration? = nil) {
        self.retention = retention
        self.interval = interval ?? min(max(retention / 4, .seconds(1)), .seconds(600))
    }

    /// The cutoff in force at `now`: runs finished before it are pruned.
    public func cutoff(at now: Date) -> Date {
        ConversationDatabase.date(lastBoundary(atMillis: ConversationDatabase.millis(now)) - retention.wholeMilliseconds)
    }

    /// The first moment after `now` at which the cutoff moves.
    public func nextPrune(after now: Date) -> Date {
        ConversationDatabase.date(lastBoundary(atMillis: ConversationDatabase.millis(now)) + step)
    }

    private var step: Int64 { max(1, interval.wholeMilliseconds) }

    /// The last multiple of `interval` at or before `millis`.
    private func lastBoundary(atMillis millis: Int64) -> Int64 {
        let remainder = millis % step
        return millis - (remainder < 0 ? remainder + step : remainder)
    }
}
