import Foundation

extension Membership {
    /// A running suspicion of one member: when it started here and who confirmed it (Lifeguard's
    /// dynamic suspicion timeout).
    package struct Suspicion<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
        /// When this node began to suspect the member (shifted forward after a local stall).
        package var startedAt: Instant
        /// Uids of the members known to suspect it at the current incarnation (may include this node).
        package var suspectors: Set<UInt64>
        /// Independent confirmations needed for the shortest timeout, fixed when the suspicion starts.
        package var expectedConfirmations: Int

        /// The suspicion timeout for the confirmations received so far:
        /// `max − (max − min) · log(c + 1) / log(k + 1)`, where `c` counts suspectors beyond the first,
        /// clamped to `[min, max]`; with `k == 0` it is `min`.
        package func timeout(min: Duration, max: Duration) -> Duration {
            let k = expectedConfirmations
            guard k > 0 else { return min }
            let c = Swift.min(Swift.max(suspectors.count - 1, 0), k)
            let fraction = log(Double(c + 1)) / log(Double(k + 1))
            let timeout = max - (max - min) * fraction
            return Swift.max(min, timeout)
        }

        /// When the member is declared dead unless refuted or confirmed further.
        package func deadline(min: Duration, max: Duration) -> Instant {
            startedAt.advanced(by: timeout(min: min, max: max))
        }
    }

    /// Lifeguard's local health multiplier: a score in `0 ..< maximum` that rises when this node sees
    /// signs of its own slowness and falls with every successful probe. Timeouts and the probe interval
    /// are multiplied by `score + 1`.
    package struct LocalHealth: Sendable, Hashable {
        /// Current score, `0` when healthy.
        package private(set) var score: Int = 0
        /// Highest multiplier (`score + 1`).
        package let maximum: Int

        package init(maximum: Int) {
            self.maximum = maximum
        }

        /// The factor applied to probe timeouts and to the probe interval.
        package var multiplier: Int { score + 1 }

        /// A sign of local trouble: a failed probe, a missed nack, a refuted suspicion, a stalled tick.
        package mutating func degrade() { score = Swift.min(score + 1, maximum - 1) }

        /// A probe succeeded.
        package mutating func improve() { score = Swift.max(score - 1, 0) }
    }
}
