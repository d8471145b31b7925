public import ParleyStructuredOutput
public import ParleyToolCalls

/// One generation asked of an ``Engine``: a prompt, how to sample, and when to stop.
public struct GenerationRequest: Sendable {
    /// What the model continues.
    public enum Prompt: Sendable {
        /// Chat messages, rendered with the model's chat template plus the assistant prefix.
        case chat([ChatTurn])
        /// Exact text; special tokens such as `<|im_start|>` in it are recognised.
        case raw(String)
        /// Token ids, used as they are.
        case tokens([Int32])
    }

    /// What the model continues.
    public var prompt: Prompt
    /// How the next token is chosen. Default: ``SamplingParameters/init()``.
    public var sampling: SamplingParameters
    /// The most tokens to generate; `nil` (the default) means until the context is full.
    public var maxTokens: Int?
    /// Strings that end the generation when they appear in the output; they are not emitted.
    public var stop: [String]
    /// How many of the prompt's last tokens are already part of the answer (a resumed answer): the
    /// frequency and presence penalties count them as generated. Default 0.
    public var answerPrefixLength: Int
    /// Report each generated token's log probability under the model and this many of the likeliest
    /// tokens at its position (0...20; ``GeneratedToken/logprobs``); `nil` (the default) reports none.
    public var logprobs: Int?
    /// What the answer must be. Default ``OutputFormat/text``.
    public var format: OutputFormat

    /// Creates a request.
    public init(
        prompt: Prompt, sampling: SamplingParameters = .init(), maxTokens: Int? = nil, stop: [String] = [],
        answerPrefixLength: Int = 0, logprobs: Int? = nil, format: OutputFormat = .text
    ) {
        self.prompt = prompt
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stop = stop
        self.answerPrefixLength = answerPrefixLength
        self.logprobs = logprobs
        self.format = format
    }
}

/// What an answer must be.
public enum OutputFormat: Sendable, Equatable {
    /// Any text.
    case text
    /// One JSON value of the schema (with whitespace around it): only tokens that continue such a
    /// value are chosen, and the answer ends when the value does (OpenAI's structured outputs). An
    /// answer cut short by `maxTokens` or the context is an unfinished value.
    case json(OutputSchema)
    /// Text or tool calls (``ToolCallMarkup``) as the grammar allows: once a call opens, only tokens
    /// that continue a call of one of its tools are chosen; the answer ends where the grammar says.
    case toolCalls(ToolCallGrammar)

    /// Any JSON object (OpenAI's `json_object` response format, JSON mode).
    public static let jsonObject = OutputFormat.json(.anyObject)
}

/// How the next token is drawn from the model's distribution.
///
/// Filters apply in llama.cpp's order: logit bias, penalties, top-k, top-p, min-p, then temperature.
/// A temperature of 0 means greedy decoding (the most likely token; the other fields are ignored
/// except the logit bias and the penalties).
public struct SamplingParameters: Sendable, Equatable {
    /// Softmax temperature; 0 is greedy. Default 0.8.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; 0 disables. Default 40.
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches `topP`; 1 disables. Default 0.95.
    public var topP: Float
    /// Drop tokens less likely than `minP` × the most likely one; 0 disables. Default 0.05.
    public var minP: Float
    /// Divides positive logits (multiplies negative ones) of tokens seen in the last
    /// ``repetitionWindow`` tokens; 1 disables. Default 1.
    public var repetitionPenalty: Float
    /// How many recent tokens (prompt included) the repetition penalty looks at. Default 64.
    public var repetitionWindow: Int
    /// Subtracted from a token's logit once for each time the answer so far holds it (OpenAI's
    /// `frequency_penalty`); 0 disables. Default 0.
    public var frequencyPenalty: Float
    /// Subtracted from a token's logit when the answer so far holds it at all (OpenAI's
    /// `presence_penalty`); 0 disables. Default 0.
    public var presencePenalty: Float
    /// Added to the logits of these token ids before anything else (OpenAI's `logit_bias`: -100
    /// all but bans a token, 100 all but forces it). Default empty.
    public var logitBias: [Int32: Float]
    /// Seed of the random generator; the same seed, prompt and parameters give the same tokens.
    /// `nil` (the default) picks a random seed.
    public var seed: UInt64?

    /// Creates sampling parameters; every argument has the documented default.
    public init(
        temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
        repetitionPenalty: Float = 1, repetitionWindow: Int = 64, frequencyPenalty: Float = 0, presencePenalty: Float = 0,
        logitBias: [Int32: Float] = [:], seed: UInt64? = nil
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.logitBias = logitBias
        self.seed = seed
    }

    /// Whether the frequency or presence penalty is on (then the answer's tokens are counted).
    var countsAnswerTokens: Bool { frequencyPenalty != 0 || presencePenalty != 0 }

    /// Greedy decoding: always the most likely token.
    public static let greedy = SamplingParameters(temperature: 0)
}

/// One event of a generation stream: progress through a long prompt, a token, or the end.
public enum TokenEvent: Sendable {
    /// `computed` of the prompt's `of` tokens are in the cache: for a prompt that takes several
    /// steps, sent as its first step starts (the tokens reused from the prefix cache) and after each
    /// step but the last, before its first token: the engine is working, not hung.
    case prompt(computed: Int, of: Int)
    /// A generated token and the text it completes.
    case token(GeneratedToken)
    /// The generation ended; always the last event of a stream that did not throw.
    case finished(GenerationSummary)
}

/// A generated token.
public struct GeneratedToken: Sendable, Equatable {
    /// The token id.
    public var id: Int32
    /// The text released with this token: only whole UTF-8 characters, and text that could be the
    /// start of a stop string is held back until it is known not to be. May be empty.
    public var text: String
    /// How likely the model found it, when the request asked (``GenerationRequest/logprobs``).
    public var logprobs: TokenLogprobs?
}

/// How likely the model found a generated token, and the likeliest tokens at its position. The
/// distribution is the model's own: before the logit bias, the penalties, the temperature and the
/// filters of ``SamplingParameters`` change it.
public struct TokenLogprobs: Sendable, Equatable {
    /// Natural logarithm of the chosen token's probability.
    public var logprob: Float
    /// The likeliest tokens, most likely first; as many as asked for.
    public var top: [Candidate]

    /// One token and its log probability.
    public struct Candidate: Sendable, Equatable {
        public var id: Int32
        public var logprob: Float
    }

    /// Most alternatives a request may ask for.
    public static let maxTop = 20
}

/// Why a generation ended.
public enum FinishReason: String, Sendable, Equatable {
    /// An end-of-generation token or a stop string.
    case stop
    /// `maxTokens` reached, or the context is full.
    case length
    /// The engine was shut down.
    case cancelled
}

/// How a generation ended and what it cost.
public struct GenerationSummary: Sendable {
    /// Why it ended.
    public var finishReason: FinishReason
    /// The prompt's token ids.
    public var promptTokens: [Int32]
    /// Number of generated tokens (including a final end-of-generation token, which emits no text).
    public var completionTokenCount: Int
    /// Leading prompt tokens whose keys and values came from an earlier request's cache (not computed).
    public var reusedPromptTokens: Int = 0
    /// Timings of this request.
    public var timings: GenerationTimings
}

/// Timings of one request, measured with a monotonic clock.
public struct GenerationTimings: Sendable, Equatable {
    /// From submission until the request got a slot.
    public var queued: Duration
    /// From submission until the first generated token.
    public var timeToFirstToken: Duration
    /// Time spent in prompt processing (from admission until the first token).
    public var prefill: Duration
    /// From the first to the last generated token.
    public var decode: Duration
    /// Prompt tokens per second of ``prefill``.
    public var prefillTokensPerSecond: Double
    /// Generated tokens per second after the first one.
    public var decodeTokensPerSecond: Double
}

extension EngineError.Code {
    /// The prompt has no tokens.
    public static let emptyPrompt = Self("emptyPrompt")
    /// The prompt does not fit the context (there must be room for at least one generated token).
    public static let promptTooLong = Self("promptTooLong")
    /// The request can never fit the engine's KV-cache budget.
    public static let exceedsCapacity = Self("exceedsCapacity")
    /// A request parameter is out of range (e.g. `maxTokens` < 1, a negative temperature).
    public static let invalidRequest = Self("invalidRequest")
    /// The engine was shut down.
    public static let engineStopped = Self("engineStopped")
}
