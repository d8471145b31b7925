public import ParleyProtocol

/// The event stream of one synthetic generation (see ``SyntheticModel``). Timing uses the
/// continuous clock with absolute deadlines from the moment the generation was asked for (no
/// drift); cancelling the iterating task ends it at once with `CancellationError`.
public struct SyntheticStream: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    public typealias Failure = any Error

    let request: ModelRequest
    let configuration: SyntheticModel.Configuration
    /// `timeToFirstToken` after the generation was asked for.
    let firstTokenDue: ContinuousClock.Instant

    public func makeAsyncIterator() -> Iterator {
        let call = SyntheticModel.toolCallPieces(for: request)
        return Iterator(
            hash: SyntheticModel.requestHash(request),
            next: request.firstTokenIndex,
            length: SyntheticModel.answerLength(for: request, defaultLength: configuration.defaultLength, call: call),
            finishReason: SyntheticModel.finishReason(for: request, call: call),
            promptTokens: SyntheticModel.promptTokenCount(for: request), logprobs: request.sampling.logprobs,
            format: request.sampling.responseFormat, toolCall: call,
            configuration: configuration, firstTokenDue: firstTokenDue)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let hash: UInt64
        var next: Int
        let length: Int
        let finishReason: FinishReason
        let promptTokens: Int
        /// Alternatives per token when the request asked for logprobs.
        let logprobs: Int?
        let format: ResponseFormat
        /// The tokens of a required tool call, when the request requires one.
        let toolCall: [String]?
        let configuration: SyntheticModel.Configuration
        let firstTokenDue: ContinuousClock.Instant
        var deadline: ContinuousClock.Instant?
        var finished = false
        var reportedPrompt = false

        public mutating func next() async throws -> GenerationEvent? {
            guard !finished else { return nil }
            try Task.checkCancellation()
            let clock = ContinuousClock()
            if let deadline {
                if configuration.tokensPerSecond > 0 {
                    let step = Duration.seconds(1 / configuration.tokensPerSecond)
                    let target = deadline.advanced(by: step)
                    if target > clock.now { try await Task.sleep(until: target, clock: clock) }
                    self.deadline = target
                }
            } else {
                if let interval = configuration.promptProgressInterval, clock.now.advanced(by: interval) < firstTokenDue {
                    // "Computing the prompt": 0 at once, then its share done by each report, as the
                    // built-in engine says.
                    if !reportedPrompt {
                        reportedPrompt = true
                        return .prompt(computed: 0, of: promptTokens)
                    }
                    try await Task.sleep(until: clock.now.advanced(by: interval), clock: clock)
                    let left = clock.now.duration(to: firstTokenDue)
                    let done = 1 - Swift.max(0, left / configuration.timeToFirstToken)
                    return .prompt(computed: Int(Double(promptTokens) * done), of: promptTokens)
                }
                if firstTokenDue > clock.now { try await Task.sleep(until: firstTokenDue, clock: clock) }
                deadline = firstTokenDue
            }
            guard next < length else {
                finished = true
                return .finished(finishReason, TokenUsage(promptTokens: promptTokens, completionTokens: length))
            }
            defer { next += 1 }
            let text = toolCall?[next] ?? SyntheticModel.text(at: next, of: length, requestHash: hash, format: format)
            guard let top = logprobs else { return .token(index: next, text: text) }
            return .token(
                index: next, text: text,
                logprobs: [SyntheticModel.logprobs(at: next, text: text, requestHash: hash, top: top)])
        }
    }
}
