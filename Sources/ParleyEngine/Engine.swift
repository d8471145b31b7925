import Foundation
import Synchronization

/// Runs a GGUF model (a ``ModelFamily``: llama or Gemma 3) on the CPU and streams generated tokens.
///
/// Many ``generate(_:)`` calls may run at once: they share every decode step (continuous batching,
/// one pass over the weights for all sequences), new requests join between steps, and a consumer
/// that stops iterating frees its slot before the next step. KV-cache memory is bounded by
/// ``Configuration/kvCacheBytes``; a request that fits but not now waits, one that never fits is
/// refused with `EngineError.Code.exceedsCapacity`.
///
/// All computation runs on the engine's own thread and thread pool, never on Swift's cooperative
/// pool. Call ``shutdown()`` when done.
public final class Engine: Sendable {
    /// Settings of an engine; every field has a documented default.
    public struct Configuration: Sendable {
        /// Threads for the matrix kernels, the engine's thread included. Default: the online CPUs.
        public var threadCount: Int
        /// Most sequences generating at once. Default 16.
        public var maxSequences: Int
        /// Bytes of KV cache all admitted sequences may reserve together (each reserves prompt +
        /// max tokens positions; pages are touched only as they fill). Default 2 GiB.
        public var kvCacheBytes: Int
        /// Per-sequence context cap in tokens; `nil` (the default) uses the model's context length.
        public var contextLength: Int?
        /// Most prompt tokens processed per step; longer prompts are split over steps so running
        /// streams keep flowing. Default 512.
        public var prefillChunk: Int
        /// Most prompt tokens per step while other streams are decoding (they wait for the whole
        /// step, so this bounds their inter-token time: about 1 ms per prompt token on two cores
        /// with the default model). The full ``prefillChunk`` is used when nobody decodes. Default 64.
        public var decodingPrefillChunk: Int
        /// How the forward pass computes: `.int8` (llama.cpp's arithmetic, the default) or
        /// `.float32` (dequantized weights, float activations and KV cache: several times slower and
        /// about 4 bytes per weight of memory; for verification against a float reference).
        public var activations: ActivationPrecision
        /// Bytes of KV cache kept from finished requests, on top of ``kvCacheBytes``, so that the next
        /// turn of a chat reuses the keys and values of the turns before it instead of computing
        /// them again (least recently used first out; 0 disables). Default 256 MiB.
        public var prefixCacheBytes: Int

        /// Creates a configuration; every argument has the documented default.
        public init(
            threadCount: Int? = nil, maxSequences: Int = 16, kvCacheBytes: Int = 2 << 30, contextLength: Int? = nil,
            prefillChunk: Int = 512, decodingPrefillChunk: Int = 64, prefixCacheBytes: Int = 256 << 20,
            activations: ActivationPrecision = .int8
        ) {
            self.activations = activations
            self.threadCount = threadCount ?? ThreadPool.processorCount
            self.maxSequences = maxSequences
            self.kvCacheBytes = kvCacheBytes
            self.contextLength = contextLength
            self.prefillChunk = prefillChunk
            self.decodingPrefillChunk = decodingPrefillChunk
            self.prefixCacheBytes = prefixCacheBytes
        }
    }

    /// The model's name (`general.name`, or the file name).
    public let modelName: String
    /// Tokens one sequence can hold (prompt and output together).
    public let contextLength: Int
    /// The model's tokenizer.
    public let tokenizer: Tokenizer
    /// Bytes of weights one decode step reads.
    public let weightBytesPerStep: Int
    private let chatTemplate: Result<ChatTemplate, EngineError>
    private let loop: EngineLoop
    private let pool: ThreadPool
    /// Signalled once when the compute thread has returned.
    private let finished = DispatchSemaphore(value: 0)
    private let isShutDown = Mutex(false)

    /// Loads the model at `modelPath` and starts the compute thread.
    /// - Throws: `EngineError` for an unreadable or unsupported file.
    public init(modelPath: String, configuration: Configuration = .init()) throws {
        let file = try GGUFFile(path: modelPath)
        let model = try TransformerModel(
            file: file, precision: configuration.activations, contextLength: configuration.contextLength)
        tokenizer = try Tokenizer(gguf: file)
        do {
            chatTemplate = .success(try ChatTemplate(gguf: file))
        } catch let error as EngineError {
            chatTemplate = .failure(error)
        }
        modelName = model.name
        weightBytesPerStep = model.weightBytesPerStep
        contextLength = model.contextLength
        let bytesPerPosition = KVCache.byteCount(
            layerCount: model.layers.count, width: model.keyValueWidth, capacity: 1, element: model.cacheElement)
        pool = ThreadPool(threadCount: configuration.threadCount)
        loop = EngineLoop(
            forward: ForwardPass(model: model, pool: pool), tokenizer: tokenizer,
            prefixCachePositions: max(0, configuration.prefixCacheBytes) / bytesPerPosition,
            planner: .init(
                maxSequences: max(1, configuration.maxSequences),
                kvBudget: configuration.kvCacheBytes / bytesPerPosition,
                prefillChunk: max(1, configuration.prefillChunk),
                decodingPrefillChunk: max(1, configuration.decodingPrefillChunk)))
        let loop = self.loop, finished = self.finished
        let thread = Thread {
            loop.run()
            finished.signal()
        }
        thread.name = "parley-engine"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Starts a generation and returns its event stream.
    ///
    /// The stream yields one ``TokenEvent/token(_:)`` per generated token and then one
    /// ``TokenEvent/finished(_:)``; invalid requests make it throw an `EngineError` (`.emptyPrompt`,
    /// `.promptTooLong`, `.exceedsCapacity`, `.invalidRequest`, `.engineStopped`, or a template
    /// error). Stopping the iteration (or cancelling its task) cancels the generation.
    public func generate(_ request: GenerationRequest) -> AsyncThrowingStream<TokenEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<TokenEvent, any Error>.makeStream()
        do {
            let pending = try validate(request, continuation: continuation)
            let loop = self.loop
            continuation.onTermination = { termination in
                if case .cancelled = termination { loop.cancel(pending.id) }
            }
            loop.submit(pending)
        } catch {
            continuation.finish(throwing: error)
        }
        return stream
    }

    /// Steps stopped part-way because every generation in them was cancelled meanwhile (a long
    /// prompt whose reader pressed Stop frees the engine within a layer, not a whole step).
    package var abandonedSteps: Int { loop.abandonedSteps }

    /// The system message the model's chat template puts first when a chat has none, if any.
    public var defaultSystemMessage: String? { try? chatTemplate.get().defaultSystemMessage }

    /// The token ids the engine would feed the model for `prompt`.
    public func promptTokens(_ prompt: GenerationRequest.Prompt) throws -> [Int32] {
        switch prompt {
        case .chat(let turns):
            let template = try chatTemplate.get()
            return try template.encode(messages: turns, addGenerationPrompt: true, tokenizer: tokenizer)
        case .raw(let text):
            return (tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []) + tokenizer.encode(text, parseSpecial: true)
        case .tokens(let ids):
            return ids
        }
    }

    /// Ends every running generation with ``FinishReason/cancelled``, fails waiting ones with
    /// `.engineStopped`, and stops the threads. Later `generate` calls fail with `.engineStopped`.
    public func shutdown() {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        loop.stop()
        finished.wait()
        pool.shutdown()
    }

    private func validate(
        _ request: GenerationRequest, continuation: AsyncThrowingStream<TokenEvent, any Error>.Continuation
    ) throws -> PendingRequest {
        let prompt = try promptTokens(request.prompt)
        guard !prompt.isEmpty else { throw EngineError(.emptyPrompt, "the prompt has no tokens") }
        guard prompt.count < contextLength else {
            throw EngineError(
                .promptTooLong,
                "the prompt has \(prompt.count) tokens; the context holds \(contextLength) "
                    + "(at most \(contextLength - 1) prompt tokens)")
        }
        if let invalid = prompt.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
            throw EngineError(.invalidRequest, "token id \(invalid) is outside the vocabulary")
        }
        if let maxTokens = request.maxTokens, maxTokens < 1 {
            throw EngineError(.invalidRequest, "maxTokens must be at least 1, got \(maxTokens)")
        }
        let s = request.sampling
        guard s.temperature >= 0, s.topP > 0, s.topP <= 1, s.minP >= 0, s.minP <= 1, s.repetitionPenalty > 0,
            s.topK >= 0, s.repetitionWindow >= 0
        else {
            throw EngineError(.invalidRequest, "sampling parameters out of range: \(s)")
        }
        guard s.frequencyPenalty.isFinite, s.presencePenalty.isFinite, s.logitBias.values.allSatisfy(\.isFinite) else {
            throw EngineError(.invalidRequest, "penalties and logit biases must be finite numbers")
        }
        if let invalid = s.logitBias.keys.sorted().first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
            throw EngineError(
                .invalidRequest, "logit_bias names token id \(invalid), which is not in the model's vocabulary "
                    + "(0 to \(tokenizer.vocabularySize - 1))")
        }
        guard request.answerPrefixLength >= 0, request.answerPrefixLength <= prompt.count else {
            throw EngineError(.invalidRequest, "answerPrefixLength \(request.answerPrefixLength) is outside the prompt")
        }
        if let logprobs = request.logprobs, !(0...TokenLogprobs.maxTop).contains(logprobs) {
            throw EngineError(.invalidRequest, "logprobs must be 0 to \(TokenLogprobs.maxTop) alternatives, got \(logprobs)")
        }
        let room = contextLength - prompt.count
        return PendingRequest(
            id: loop.makeID(), prompt: prompt, sampling: s, seed: s.seed ?? UInt64.random(in: .min ... .max),
            maxTokens: min(request.maxTokens ?? room, room), stop: request.stop,
            answerPrefixLength: request.answerPrefixLength, logprobs: request.logprobs, format: request.format,
            continuation: continuation,
            submittedAt: ContinuousClock().now)
    }
}
