public import ParleyEngine
import ParleyJSON
public import ParleyProtocol
import ParleyStructuredOutput
import ParleyToolCalls

/// The built-in engine (`--model smollm2` or a GGUF path), the default backend.
///
/// A stored chat whose prompt outgrows the model's context is sent without its oldest turns
/// (``HistoryWindow``); a prompt the client sent that is too long on its own is refused.
///
/// Sampling maps one to one (`temperature`, `topP`, `topK`, `minP`, `seed`, the repetition,
/// frequency and presence penalties, `logitBias`; the engine's defaults otherwise), as do `maxTokens` and `stop`. A resumed request (``ModelRequest/resume``) is prompted with the
/// chat template of the messages followed by the assistant's partial text as plain tokens, so the
/// model continues the same answer; its tokens are numbered from `resume.tokenCount`, its
/// `maxTokens` shrinks by the tokens already sent, and its usage counts the whole answer.
public struct EngineBackend: ModelBackend {
    /// The engine this backend drives (shut down by ``shutdown()``).
    public let engine: Engine
    /// The model name clients use.
    public let modelName: String

    /// Serves `engine` under `modelName`.
    public init(engine: Engine, modelName: String) {
        self.engine = engine
        self.modelName = modelName
    }

    public var models: [ModelInfo] {
        [ModelInfo(id: modelName, backend: "builtin", contextLength: engine.contextLength)]
    }

    public func generate(_ request: ModelRequest) throws -> EngineEvents {
        // A stored chat longer than the context goes on without its oldest turns.
        let window = HistoryWindow(contextLength: engine.contextLength)
        let (chatPrompt, _) = try window.fit(
            request.messages, historyCount: request.historyCount,
            answerRoom: window.answerRoom(maxTokens: request.sampling.maxTokens),
            // A message's text plus its role's markers (a few tokens in the chat template).
            size: { engine.tokenizer.encode($0.content, parseSpecial: false).count + 4 }
        ) { messages in
            do {
                return try engine.promptTokens(.chat(Self.turns(messages, tools: request.sampling.tools, engine: engine)))
            } catch {
                // A chat the model's template refuses says why in the template's words.
                let reason = (error as? EngineError)?.message ?? "\(error)"
                throw ServingError(ServingError.invalidRequest, "the messages cannot be rendered: \(reason)")
            }
        }
        let first = request.firstTokenIndex
        var prompt = chatPrompt
        if let resume = request.resume, !resume.text.isEmpty {
            prompt += engine.tokenizer.encode(resume.text, parseSpecial: false)
        }
        let remaining = request.sampling.maxTokens.map { $0 - first }
        let generation = GenerationRequest(
            prompt: .tokens(prompt), sampling: Self.parameters(request.sampling),
            maxTokens: remaining.map { max(1, $0) }, stop: request.sampling.stop,
            // A resumed answer's text counts for the penalties as if this engine had generated it.
            answerPrefixLength: prompt.count - chatPrompt.count, logprobs: request.sampling.logprobs,
            format: try Self.format(request.sampling.responseFormat, tools: request.sampling.tools))
        let exhausted = remaining.map { $0 <= 0 } ?? false
        // The engine starts now, when asked, not at the first read; a stream dropped unread cancels it.
        return EngineEvents(
            tokens: exhausted ? nil : engine.generate(generation), firstIndex: first,
            promptTokenCount: chatPrompt.count, tokenizer: engine.tokenizer)
    }

    public func shutdown() async {
        engine.shutdown()
    }

    /// The chat as the engine's template takes it: with the tools the answer may call listed in the
    /// system message, and tool results as user turns (``ToolPrompt``).
    static func turns(_ messages: [ChatMessage], tools: ToolOptions?, engine: Engine) -> [ChatTurn] {
        let listed = (tools?.callable ?? []).map {
            ToolPrompt.Tool(name: $0.name, description: $0.description, parameters: $0.parameters)
        }
        return ToolPrompt.turns(
            messages.map { ($0.role, $0.content) }, tools: listed, defaultSystem: engine.defaultSystemMessage
        ).map { ChatTurn(role: $0.role, content: $0.content) }
    }

    /// The engine's output format for `format` and `tools`: a schema is compiled here (the gateway
    /// checked it). Tools the answer may call hold their calls to their schemas (a tool whose schema
    /// the engine cannot enforce, and that is not `strict`, to any object of arguments).
    static func format(_ format: ResponseFormat, tools: ToolOptions?) throws -> OutputFormat {
        if let tools, !tools.callable.isEmpty {
            guard format == .text else {
                throw ServingError(
                    ServingError.invalidRequest, "the built-in model cannot hold an answer to a response format and tools at once")
            }
            let grammarTools = try tools.callable.map(grammarTool)
            return .toolCalls(
                ToolCallGrammar(tools: grammarTools, mode: tools.callRequired ? .required : .auto, parallel: tools.parallelCalls))
        }
        return try Self.format(format)
    }

    /// `tool` as the grammar holds calls to it (its parameters' text unreadable counts as a schema
    /// it cannot enforce).
    static func grammarTool(_ tool: ToolDefinition) throws -> ToolCallGrammar.Tool {
        let parameters = tool.parameters.map { (try? JSONParser.parse($0.utf8)) ?? .null }
        do {
            return try ToolCallGrammar.Tool(name: tool.name, parameters: parameters, strict: tool.strict)
        } catch {
            throw ServingError(ServingError.invalidRequest, "the parameters of tool '\(tool.name)' cannot be enforced: \(error)")
        }
    }

    /// The engine's output format for `format`: a schema is compiled here (the gateway checked it).
    static func format(_ format: ResponseFormat) throws -> OutputFormat {
        switch format {
        case .text: return .text
        case .jsonObject: return .jsonObject
        case .jsonSchema(_, let text):
            do {
                return .json(try OutputSchema.compile(try JSONParser.parse(text.utf8)))
            } catch {
                throw ServingError(ServingError.invalidRequest, "the JSON schema cannot be used: \(error)")
            }
        }
    }

    /// The engine's sampling parameters for `options` (`nil` fields keep the engine's defaults).
    static func parameters(_ options: SamplingOptions) -> SamplingParameters {
        var parameters = SamplingParameters()
        if let temperature = options.temperature { parameters.temperature = Float(max(0, temperature)) }
        if let topP = options.topP { parameters.topP = Float(min(1, max(0.000_001, topP))) }
        if let topK = options.topK { parameters.topK = max(0, topK) }
        if let minP = options.minP { parameters.minP = Float(min(1, max(0, minP))) }
        if let penalty = options.repetitionPenalty, penalty > 0 { parameters.repetitionPenalty = Float(penalty) }
        parameters.seed = options.seed
        parameters.frequencyPenalty = Float(options.frequencyPenalty ?? 0)
        parameters.presencePenalty = Float(options.presencePenalty ?? 0)
        for (token, bias) in options.logitBias {
            // Ids beyond Int32 are outside every vocabulary: kept as -1 so the engine refuses them.
            parameters.logitBias[Int32(exactly: token) ?? -1] = Float(bias)
        }
        return parameters
    }
}

/// The events of one engine generation, numbered from the resume point.
public struct EngineEvents: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    public typealias Failure = any Error

    /// The engine's running generation; nil when the resume point already reached `maxTokens`
    /// (finish at once with `length`).
    let tokens: AsyncThrowingStream<TokenEvent, any Error>?
    let firstIndex: Int
    let promptTokenCount: Int
    /// Turns the ids of logprobs into their bytes.
    let tokenizer: Tokenizer

    public func makeAsyncIterator() -> Iterator {
        Iterator(events: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let events: EngineEvents
        /// nil when there is nothing to generate (``EngineEvents/tokens``).
        var base: AsyncThrowingStream<TokenEvent, any Error>.AsyncIterator?
        var next: Int
        var done = false

        init(events: EngineEvents) {
            self.events = events
            self.next = events.firstIndex
            self.base = events.tokens?.makeAsyncIterator()
        }

        public mutating func next() async throws -> GenerationEvent? {
            guard !done else { return nil }
            guard base != nil else {
                done = true
                return .finished(.length, TokenUsage(promptTokens: events.promptTokenCount, completionTokens: next))
            }
            let event: TokenEvent?
            do {
                event = try await base?.next()
            } catch let error as EngineError {
                done = true
                throw Self.servingError(error)
            }
            switch event {
            case .prompt(let computed, let total):
                return .prompt(computed: computed, of: total)
            case .token(let token):
                defer { next += 1 }
                return .token(index: next, text: token.text, logprobs: logprobs(of: token))
            case .finished(let summary):
                done = true
                let reason: ParleyProtocol.FinishReason =
                    switch summary.finishReason {
                    case .stop: .stop
                    case .length: .length
                    case .cancelled: .cancelled
                    }
                return .finished(
                    reason,
                    TokenUsage(
                        promptTokens: events.promptTokenCount, completionTokens: next,
                        cachedPromptTokens: summary.reusedPromptTokens))
            case nil:
                done = true
                try Task.checkCancellation()
                return nil
            }
        }

        /// The wire form of a token's logprobs, with each token's bytes (special tokens as their
        /// text, e.g. `<|im_end|>` among the alternatives); none for the end-of-turn token, which
        /// is no part of the answer.
        func logprobs(of token: GeneratedToken) -> [TokenLogprob] {
            let tokenizer = events.tokenizer
            guard let scored = token.logprobs, !tokenizer.endOfGenerationIDs.contains(token.id) else { return [] }
            func bytes(_ id: Int32) -> [UInt8] { Array(tokenizer.pieceBytes(id, renderSpecial: true)) }
            return [
                TokenLogprob(
                    bytes: bytes(token.id), logprob: Double(scored.logprob),
                    top: scored.top.map { TokenLogprob(bytes: bytes($0.id), logprob: Double($0.logprob)) })
            ]
        }

        static func servingError(_ error: EngineError) -> ServingError {
            switch error.code {
            case .engineStopped:
                ServingError(ServingError.noBackend, "the model engine stopped")
            case .exceedsCapacity:
                ServingError(ServingError.overloaded, error.message)
            default:
                ServingError(ServingError.invalidRequest, error.message)
            }
        }
    }
}
