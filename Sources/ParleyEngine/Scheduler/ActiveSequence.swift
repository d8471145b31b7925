/// A request the compute thread is working on: its prompt, cache, sampler and output state.
/// Owned by the compute thread only.
final class ActiveSequence {
    typealias Continuation = AsyncThrowingStream<TokenEvent, any Error>.Continuation

    let id: Int
    let prompt: [Int32]
    let cache: KVCache
    let maxTokens: Int
    /// Alternatives to report with each token's log probability; nil reports none.
    let logprobs: Int?
    let continuation: Continuation
    let submittedAt: ContinuousClock.Instant
    let admittedAt: ContinuousClock.Instant
    var sampler: Sampler
    var decoder: TokenTextDecoder
    var stopMatcher: StopMatcher
    /// Prompt tokens already in the cache.
    var processed = 0
    /// Leading prompt tokens taken over from the prefix cache.
    var reused = 0
    var generated: [Int32] = []
    var firstTokenAt: ContinuousClock.Instant?
    var lastTokenAt: ContinuousClock.Instant?

    init(request: PendingRequest, cache: KVCache, tokenizer: Tokenizer, now: ContinuousClock.Instant) {
        id = request.id
        prompt = request.prompt
        self.cache = cache
        maxTokens = request.maxTokens
        logprobs = request.logprobs
        continuation = request.continuation
        submittedAt = request.submittedAt
        admittedAt = now
        let answerSoFar = request.prompt.suffix(request.answerPrefixLength)
        sampler = Sampler(
            parameters: request.sampling, seed: request.seed, answerSoFar: answerSoFar,
            constraint: AnswerConstraint(format: request.format, tokenizer: tokenizer, answerSoFar: answerSoFar))
        decoder = TokenTextDecoder(tokenizer: tokenizer)
        stopMatcher = StopMatcher(stops: request.stop)
    }

    /// Prompt tokens still to process.
    var remainingPrompt: Int { prompt.count - processed }

    /// The tokens the repetition penalty looks at.
    func recentTokens(_ window: Int) -> ArraySlice<Int32> {
        if generated.count >= window { return generated.suffix(window) }
        return (prompt.suffix(window - generated.count) + generated)[...]
    }

    func summary(_ reason: FinishReason) -> GenerationSummary {
        let first = firstTokenAt ?? admittedAt
        let last = lastTokenAt ?? first
        let prefill = first - admittedAt
        let decode = last - first
        return GenerationSummary(
            finishReason: reason, promptTokens: prompt, completionTokenCount: generated.count, reusedPromptTokens: reused,
            timings: GenerationTimings(
                queued: admittedAt - submittedAt, timeToFirstToken: first - submittedAt, prefill: prefill,
                decode: decode, prefillTokensPerSecond: Self.rate(prompt.count - reused, prefill),
                decodeTokensPerSecond: Self.rate(generated.count - 1, decode)))
    }

    static func rate(_ count: Int, _ duration: Duration) -> Double {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
        return count > 0 && seconds > 0 ? Double(count) / seconds : 0
    }
}

/// A validated request waiting for the compute thread.
struct PendingRequest: Sendable {
    var id: Int
    var prompt: [Int32]
    var sampling: SamplingParameters
    var seed: UInt64
    /// Tokens to generate at most (already capped by the context).
    var maxTokens: Int
    var stop: [String]
    /// The prompt's last tokens that already belong to the answer (see ``GenerationRequest/answerPrefixLength``).
    var answerPrefixLength: Int
    /// See ``GenerationRequest/logprobs``.
    var logprobs: Int?
    var format: OutputFormat
    var continuation: ActiveSequence.Continuation
    var submittedAt: ContinuousClock.Instant
    /// KV positions to reserve: prompt plus `maxTokens`.
    var reservation: Int { prompt.count + maxTokens }
}
