public import ParleyProtocol
import ParleyStructuredOutput
import ParleyToolCalls

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The deterministic load-test model (`--model synthetic`). Never the default backend.
///
/// Its answer depends only on the request's messages, seed and `maxTokens`: token `i` is a word
/// chosen by a pure function of (a stable hash of those fields, `i`), so a test, a benchmark or a
/// chaos tool can recompute the exact answer with ``expectedAnswer(for:defaultLength:)`` and tell a
/// whole answer from a broken or repeated one. The answer has `maxTokens` tokens (finish reason
/// `length`) or, without `maxTokens`, ``Configuration/defaultLength`` tokens (finish reason `stop`).
/// Stop strings, temperature and top-p are ignored; in JSON mode the words are wrapped in one
/// object, `{"text": "…"}` (its first token opens it, its last closes it). It never chooses to
/// call a tool; a request that requires a call gets one (``toolCallPieces(for:)``). The first token comes
/// ``Configuration/timeToFirstToken`` after `generate` was called (a model starts working when it
/// is asked, not when its reader first pulls) and the rest at ``Configuration/tokensPerSecond``; a resumed
/// request waits the time to first token again, then continues at `resume.tokenCount`.
public struct SyntheticModel: ModelBackend {
    /// Timings and size of the synthetic answer.
    public struct Configuration: Sendable, Hashable {
        /// The model name it serves. Default `synthetic`.
        public var modelName: String
        /// Delay before the first token of each stream. Default 20 ms (`--synthetic-ttft MS`).
        public var timeToFirstToken: Duration
        /// Tokens per second after the first; 0 or less means no delay at all. Default 100 (`--synthetic-tps N`).
        public var tokensPerSecond: Double
        /// Tokens of an answer when the request sets no `maxTokens`. Default 64.
        public var defaultLength: Int
        /// While waiting for the first token, a `.prompt` event at once and then this often (as the
        /// built-in engine reports a long prompt's progress); nil (the default) sends none.
        public var promptProgressInterval: Duration?

        /// Creates a configuration; every argument has the documented default.
        public init(
            modelName: String = "synthetic", timeToFirstToken: Duration = .milliseconds(20),
            tokensPerSecond: Double = 100, defaultLength: Int = 64, promptProgressInterval: Duration? = nil
        ) {
            self.modelName = modelName
            self.timeToFirstToken = timeToFirstToken
            self.tokensPerSecond = tokensPerSecond
            self.defaultLength = max(1, defaultLength)
            self.promptProgressInterval = promptProgressInterval
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    public var models: [ModelInfo] {
        [ModelInfo(id: configuration.modelName, backend: "synthetic", contextLength: nil)]
    }

    public func generate(_ request: ModelRequest) throws -> SyntheticStream {
        if case .jsonSchema = request.sampling.responseFormat {
            throw ServingError(ServingError.invalidRequest, "the synthetic model cannot follow a JSON schema")
        }
        return SyntheticStream(
            request: request, configuration: configuration,
            firstTokenDue: ContinuousClock.now.advanced(by: configuration.timeToFirstToken))
    }

    public func shutdown() async {}

    // MARK: The answer as a pure function

    /// The number of tokens of the answer to `request`.
    public static func answerLength(for request: ModelRequest, defaultLength: Int = 64) -> Int {
        answerLength(for: request, defaultLength: defaultLength, call: toolCallPieces(for: request))
    }

    /// The same, given the request's ``toolCallPieces(for:)``.
    static func answerLength(for request: ModelRequest, defaultLength: Int, call: [String]?) -> Int {
        if let call { return min(call.count, max(0, request.sampling.maxTokens ?? .max)) }
        return max(0, request.sampling.maxTokens ?? defaultLength)
    }

    /// Why the answer to `request` ends: `length` when `maxTokens` is set, else `stop` (a required
    /// call: `stop` unless `maxTokens` cuts it).
    public static func finishReason(for request: ModelRequest) -> FinishReason {
        finishReason(for: request, call: toolCallPieces(for: request))
    }

    /// The same, given the request's ``toolCallPieces(for:)``.
    static func finishReason(for request: ModelRequest, call: [String]?) -> FinishReason {
        if let call { return (request.sampling.maxTokens ?? .max) < call.count ? .length : .stop }
        return request.sampling.maxTokens == nil ? .stop : .length
    }

    /// When the request requires a tool call (`tool_choice` `required` or a named tool), the
    /// answer's tokens: the markup (ToolCallMarkup) of a call of the first tool it may call, with the
    /// smallest arguments its schema allows (``OutputSchema/example(text:)``, strings the answer's
    /// first words), four characters a token. Nil otherwise: the model never chooses to call.
    public static func toolCallPieces(for request: ModelRequest) -> [String]? {
        guard let tools = request.sampling.tools, tools.callRequired, let tool = tools.callable.first else { return nil }
        let hash = requestHash(request)
        let words = (0..<6).map { token(at: $0, requestHash: hash) }.joined()
        let schema = (try? EngineBackend.grammarTool(tool))?.arguments ?? .anyObject
        let markup = Array(ToolCallMarkup.text(of: ToolCall(name: tool.name, arguments: schema.example(text: words))))
        return stride(from: 0, to: markup.count, by: 4).map { String(markup[$0..<min($0 + 4, markup.count)]) }
    }

    /// Every token text of the answer to `request`, in order (the resume point is ignored: this is
    /// the whole answer). Concatenated, they are the answer's text.
    public static func expectedAnswer(for request: ModelRequest, defaultLength: Int = 64) -> [String] {
        let call = toolCallPieces(for: request)
        let length = answerLength(for: request, defaultLength: defaultLength, call: call)
        if let call { return Array(call.prefix(length)) }
        let hash = requestHash(request)
        return (0..<length).map {
            text(at: $0, of: length, requestHash: hash, format: request.sampling.responseFormat)
        }
    }

    /// The text of token `index` of an answer of `length` tokens in `format`: the word
    /// (``token(at:requestHash:)``), and in JSON mode the object's opening before the first and its
    /// closing after the last.
    public static func text(at index: Int, of length: Int, requestHash: UInt64, format: ResponseFormat) -> String {
        let word = token(at: index, requestHash: requestHash)
        guard format == .jsonObject else { return word }
        return (index == 0 ? #"{"text": ""# : "") + word + (index == length - 1 ? #""}"# : "")
    }

    /// The prompt size used in usage: the number of whitespace-separated words of all messages, plus 4 per message.
    public static func promptTokenCount(for request: ModelRequest) -> Int {
        request.messages.reduce(0) { $0 + 4 + $1.content.split(whereSeparator: \.isWhitespace).count }
    }

    /// A stable 64-bit FNV-1a hash of the fields the answer depends on: every message's role and
    /// content, the seed and `maxTokens` (not the request id, user, model name or resume point).
    public static func requestHash(_ request: ModelRequest) -> UInt64 {
        var hasher = StableHasher()
        hasher.combine(UInt64(request.messages.count))
        for message in request.messages {
            hasher.combine(message.role)
            hasher.combine(message.content)
        }
        hasher.combine(request.sampling.seed.map { $0 &+ 1 } ?? 0)
        hasher.combine(request.sampling.maxTokens.map { UInt64(bitPattern: Int64($0)) &+ 1 } ?? 0)
        return hasher.value
    }

    /// The text of token `index` of the answer whose request hashes to `requestHash`: a word from a
    /// fixed list, with a leading space except for the first token.
    public static func token(at index: Int, requestHash: UInt64) -> String {
        word(words[Int(draw(at: index, requestHash: requestHash) % UInt64(words.count))], at: index)
    }

    /// Made-up logprobs of token `index`, whose text is `text`, as deterministic as the text: the
    /// token's probability is 0.3 to 0.9, and the `top` alternatives (the token itself first, then
    /// the words after it in the list) share the rest, each half of what is left, so they never add
    /// up to more than 1.
    public static func logprobs(at index: Int, text: String, requestHash: UInt64, top: Int) -> TokenLogprob {
        let draw = draw(at: index, requestHash: requestHash)
        let chosen = Int(draw % UInt64(words.count))
        let probability = 0.3 + 0.6 * Double((draw >> 32) % 1_000) / 1_000
        var alternatives: [TokenLogprob] = []
        var rest = 1 - probability
        for k in 0..<min(max(0, top), words.count) {
            if k == 0 {
                alternatives.append(TokenLogprob(bytes: Array(text.utf8), logprob: log(probability)))
                continue
            }
            rest /= 2
            let other = word(words[(chosen + k) % words.count], at: index)
            alternatives.append(TokenLogprob(bytes: Array(other.utf8), logprob: log(rest)))
        }
        return TokenLogprob(bytes: Array(text.utf8), logprob: log(probability), top: alternatives)
    }

    private static func word(_ word: String, at index: Int) -> String {
        index == 0 ? word : " " + word
    }

    /// 64 bits that depend on every bit of the request hash and the index.
    private static func draw(at index: Int, requestHash: UInt64) -> UInt64 {
        var x = requestHash ^ (UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15)
        // splitmix64 finaliser: every bit of the input reaches every bit of the output.
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    static let words: [String] = [
        "the", "river", "carries", "light", "across", "quiet", "stones", "and", "every", "morning", "brings",
        "a", "new", "shape", "to", "old", "hills", "where", "wind", "remembers", "songs", "of", "distant",
        "ships", "under", "copper", "skies", "while", "patient", "gardens", "grow", "slowly", "toward",
        "warm", "windows", "bright", "with", "stories", "that", "travel", "far", "beyond", "maps", "we",
        "drew", "by", "candle", "in", "winter", "so", "nothing", "is", "lost", "only", "moved", "gently",
        "into", "another", "careful", "hand", "then", "returned", "home", "again",
    ]
}

/// FNV-1a over length-prefixed fields: stable across processes and platforms (unlike `Hasher`).
struct StableHasher {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func combine(_ number: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { add(UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
    }

    mutating func combine(_ text: String) {
        combine(UInt64(text.utf8.count))
        for byte in text.utf8 { add(byte) }
    }

    private mutating func add(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
}
