import ParleyCluster
import ParleyProtocol

/// The gateway's side of "streams that survive": what to do with each event of a completion
/// stream and with each failure. Pure: it owns no task or clock.
///
/// Events are forwarded exactly once by token index: after a resubmission with
/// `resume = (tokens forwarded, their text)` the new completion node may repeat `started` and
/// tokens below the resume point; both are dropped.
struct CompletionRelayState {
    enum EventAction: Equatable {
        case forward(CompletionEvent)
        case drop
    }

    enum FailureAction: Equatable {
        /// Call `complete` again on another node with this resume point (nil: nothing was forwarded
        /// yet), after waiting `attempt` × backoff.
        case resubmit(resume: ResumePoint?, attempt: Int)
        /// Give up and report `error` upstream.
        case fail(ClusterError)
    }

    enum Phase: Equatable {
        /// `complete` was called; no event of this attempt arrived yet.
        case calling
        /// Events of this attempt are flowing.
        case streaming
        case finished
        case failed
    }

    let maxAttempts: Int
    private(set) var phase: Phase = .calling
    /// Attempts made so far (the first included).
    private(set) var attempts = 1
    private(set) var startedForwarded = false
    /// Tokens forwarded: the next expected index.
    private(set) var tokensForwarded = 0
    private(set) var textForwarded = ""

    init(maxAttempts: Int) {
        self.maxAttempts = max(1, maxAttempts)
    }

    /// The resume point of a resubmission.
    var resumePoint: ResumePoint? {
        tokensForwarded == 0 ? nil : ResumePoint(tokenCount: tokensForwarded, text: textForwarded)
    }

    mutating func received(_ event: CompletionEvent) -> EventAction {
        guard phase == .calling || phase == .streaming else { return .drop }
        phase = .streaming
        switch event {
        case .started:
            if startedForwarded { return .drop }
            startedForwarded = true
            return .forward(event)
        case .prompt:
            // Progress through a long prompt: stale once a token went out (a resubmission reads again).
            return tokensForwarded == 0 ? .forward(event) : .drop
        case .token(let index, let text, _):
            guard index >= tokensForwarded else { return .drop }
            // A gap would mean a hop below lost tokens; forwarding keeps the client's view moving.
            tokensForwarded = index + 1
            textForwarded += text
            return .forward(event)
        case .finished:
            phase = .finished
            return .forward(event)
        }
    }

    /// A call or stream failed. `userCancelled` when the client went away or asked to stop.
    mutating func failed(_ error: any Error, userCancelled: Bool) -> FailureAction {
        let clusterError = (error as? ClusterError) ?? ClusterError(.remote, "completion failed")
        guard phase == .calling || phase == .streaming, !userCancelled, attempts < maxAttempts,
            Self.isFailover(clusterError, beforeFirstEvent: phase == .calling)
        else {
            phase = .failed
            return .fail(clusterError)
        }
        attempts += 1
        phase = .calling
        return .resubmit(resume: resumePoint, attempt: attempts - 1)
    }

    /// Node death always fails over; a timeout, a vanished actor, or a completion node that finds no
    /// worker (one that has just started and does not know the cluster yet) only before the stream
    /// started (a slow stream is not a dead one).
    static func isFailover(_ error: ClusterError, beforeFirstEvent: Bool) -> Bool {
        switch error.code {
        case .nodeDown: true
        case .timedOut, .actorNotFound, noBackend: beforeFirstEvent
        default: false
        }
    }

    private static let noBackend = ClusterError.Code(rawValue: ServingError.noBackend)
}
