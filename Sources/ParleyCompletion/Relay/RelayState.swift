import ParleyCluster
package import ParleyProtocol

/// The exactly-once arithmetic of one relayed generation, as a pure value.
///
/// Every token carries its answer-relative index. The relay forwards each index once, in order:
/// an event below the next expected index was already forwarded (a resubmitted producer repeated
/// it) and is dropped. When the producer fails with an error that another node may not have (its
/// node died, it did not answer in time, it is overloaded), the relay resubmits the same request
/// with a ``ResumePoint`` made of everything forwarded so far — at most `maxAttempts` producers in
/// all. The user's cancellation is never retried.
package struct RelayState: Sendable {
    /// What to do with a received event.
    package enum EventAction: Hashable, Sendable {
        /// Forward it.
        case forward(GenerationEvent)
        /// Already forwarded (or after the end): drop it.
        case drop
        /// Forward it; it ends the generation.
        case finish(GenerationEvent)
    }

    /// What to do after the producer failed.
    package enum FailureAction: Hashable, Sendable {
        /// Open the request on another producer, continuing after `resume` (nil: from the start).
        case resubmit(resume: ResumePoint?)
        /// Give up and report the error upstream.
        case fail
    }

    /// Index of the next token to forward; also the number of tokens the answer has so far.
    package private(set) var nextIndex: Int
    /// Text of the tokens below `nextIndex`.
    package private(set) var text: String
    /// Producers tried so far (the current one included).
    package private(set) var attempts = 0
    /// Whether the finish event was forwarded.
    package private(set) var isFinished = false
    package let maxAttempts: Int

    /// - Parameters:
    ///   - resume: where the request itself starts (a resubmission from upstream), or nil.
    ///   - maxAttempts: producers to try in all (at least 1).
    package init(resume: ResumePoint?, maxAttempts: Int) {
        self.nextIndex = resume?.tokenCount ?? 0
        self.text = resume?.text ?? ""
        self.maxAttempts = max(1, maxAttempts)
    }

    /// Where a resubmission continues: nil while nothing is known to be delivered.
    package var resumePoint: ResumePoint? {
        nextIndex == 0 && text.isEmpty ? nil : ResumePoint(tokenCount: nextIndex, text: text)
    }

    /// A producer is being opened.
    package mutating func opening() {
        attempts += 1
    }

    /// Whether another producer may be tried.
    package var mayRetry: Bool { attempts < maxAttempts }

    package mutating func receive(_ event: GenerationEvent) -> EventAction {
        guard !isFinished else { return .drop }
        switch event {
        case .prompt:
            // How far the model has read a long prompt: only worth passing on before the answer.
            return nextIndex == 0 && text.isEmpty ? .forward(event) : .drop
        case .token(let index, let piece, _):
            guard index >= nextIndex else { return .drop }
            nextIndex = index + 1
            text += piece
            return .forward(event)
        case .finished:
            isFinished = true
            return .finish(event)
        }
    }

    /// The producer failed with `error`.
    package mutating func failed(_ error: any Error) -> FailureAction {
        guard !isFinished, Self.isRetryable(error), mayRetry else { return .fail }
        return .resubmit(resume: resumePoint)
    }

    /// Errors another producer may not have: its node is gone, it did not answer, it is full, or its
    /// stream ended without a finish. Cancellation and request errors are final.
    package static func isRetryable(_ error: any Error) -> Bool {
        if error is CancellationError { return false }
        if let error = error as? RelayError { return error == .endedWithoutFinish }
        guard let code = ServingError.code(of: error) else { return false }
        return [
            ClusterError.Code.nodeDown.rawValue, ClusterError.Code.timedOut.rawValue,
            ClusterError.Code.actorNotFound.rawValue, ClusterError.Code.shutDown.rawValue,
            ClusterError.Code.overloaded.rawValue, ServingError.overloaded, ServingError.noBackend,
        ].contains(code)
    }
}

/// Failures of the relay itself.
package enum RelayError: Error, Hashable, Sendable {
    /// A producer's stream ended without a finish event.
    case endedWithoutFinish
}
