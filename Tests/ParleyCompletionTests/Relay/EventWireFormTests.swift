import ParleyCluster
import ParleyProtocol
import Testing

/// The events streamed once per token cross the wire in their hand-written forms (`WireCodable`):
/// every case round-trips, a token costs a few bytes beyond its text, and damaged bytes throw.
@Suite("Streamed event wire forms")
struct EventWireFormTests {
    static let generationEvents: [GenerationEvent] = [
        .token(index: 0, text: ""), .token(index: 41, text: " wörld 🙂"), .token(index: Int.max, text: "x"),
        .finished(.stop, TokenUsage(promptTokens: 12, completionTokens: 3, cachedPromptTokens: 9)),
        .finished(.length, TokenUsage(promptTokens: 0, completionTokens: 0)),
        .finished(.cancelled, TokenUsage(promptTokens: 1, completionTokens: 2)),
        .prompt(computed: 0, of: 1), .prompt(computed: 7_483, of: 131_072),
        .token(index: 3, text: " wö", logprobs: [Self.scored]),
        .token(index: 4, text: "", logprobs: [TokenLogprob(bytes: [0xE2, 0x80], logprob: -0.5), Self.scored]),
    ]

    /// A token's logprobs: bytes that are no UTF-8 on their own, alternatives.
    static let scored = TokenLogprob(
        bytes: [0x20, 0x77, 0xC3], logprob: -0.25,
        top: [
            TokenLogprob(bytes: [0x20, 0x77, 0xC3], logprob: -0.25), TokenLogprob(bytes: Array("<|im_end|>".utf8), logprob: -2),
            TokenLogprob(bytes: [], logprob: -9999),
        ])

    static let completionEvents: [CompletionEvent] = [
        .started(conversationID: nil, userMessageID: nil, assistantMessageID: nil, rateLimit: nil),
        .started(
            conversationID: "c1", userMessageID: "m1", assistantMessageID: "m2",
            rateLimit: RateLimitDecision(allowed: true, limit: 60, remaining: 59, resetSeconds: 0.75)),
        .started(
            conversationID: "c1", userMessageID: nil, assistantMessageID: "m2",
            rateLimit: RateLimitDecision(allowed: false, limit: 60, remaining: 0, resetSeconds: 12, reason: "requests")),
        .token(index: 7, text: "tok"),
        .finished(.stop, TokenUsage(promptTokens: 5, completionTokens: 6, cachedPromptTokens: 1)),
        .prompt(computed: 512, of: 4_146),
        .token(index: 8, text: " wö", logprobs: [Self.scored]),
    ]

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        try BinaryDecoder().decode(T.self, from: BinaryEncoder().encode(value))
    }

    @Test(arguments: generationEvents) func generationEventsRoundTrip(_ event: GenerationEvent) throws {
        #expect(try roundTrip(event) == event)
    }

    @Test(arguments: completionEvents) func completionEventsRoundTrip(_ event: CompletionEvent) throws {
        #expect(try roundTrip(event) == event)
    }

    @Test func aTokenCostsItsTextAndThreeBytes() throws {
        #expect(try BinaryEncoder().encode(GenerationEvent.token(index: 5, text: "hello")).count == 8)
        #expect(try BinaryEncoder().encode(CompletionEvent.token(index: 100, text: "hello")).count == 9)
    }

    /// A token without logprobs is written as before (the case byte says there are none); asking
    /// for them adds their bytes.
    @Test func logprobsCostNothingUnlessAskedFor() throws {
        #expect(try BinaryEncoder().encode(GenerationEvent.token(index: 5, text: "hello", logprobs: [])).count == 8)
        let one = TokenLogprob(bytes: Array("hello".utf8), logprob: -0.5)
        // Case, index, text (8) + count (1) + bytes (6) + logprob (8) + alternatives count (1).
        #expect(try BinaryEncoder().encode(GenerationEvent.token(index: 5, text: "hello", logprobs: [one])).count == 24)
    }

    /// Hostile logprobs: alternatives nested in alternatives (which could run the reader's stack
    /// out), more alternatives than anyone may ask for, a token event with a count of none.
    @Test func hostileLogprobsThrow() throws {
        var nested = TokenLogprob(bytes: [1], logprob: -1)
        for _ in 0..<3 { nested = TokenLogprob(bytes: [1], logprob: -1, top: [nested]) }
        let deep = try BinaryEncoder().encode(GenerationEvent.token(index: 0, text: "", logprobs: [nested]))
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(GenerationEvent.self, from: deep) }
        let wide = TokenLogprob(bytes: [1], logprob: -1, top: Array(repeating: TokenLogprob(bytes: [2], logprob: -2), count: 21))
        let tooMany = try BinaryEncoder().encode(CompletionEvent.token(index: 0, text: "", logprobs: [wide]))
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(CompletionEvent.self, from: tooMany) }
        // Case 3 (a token with logprobs), index 0, empty text, a count of 0.
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(GenerationEvent.self, from: [3, 0, 0, 0]) }
    }

    @Test func everyTruncationThrows() throws {
        for event in Self.generationEvents {
            let bytes = try BinaryEncoder().encode(event)
            for length in 0..<bytes.count {
                #expect(throws: ClusterError.self) { try BinaryDecoder().decode(GenerationEvent.self, from: Array(bytes[..<length])) }
            }
        }
        for event in Self.completionEvents {
            let bytes = try BinaryEncoder().encode(event)
            for length in 0..<bytes.count {
                #expect(throws: ClusterError.self) { try BinaryDecoder().decode(CompletionEvent.self, from: Array(bytes[..<length])) }
            }
        }
    }

    @Test func unknownCasesThrow() {
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(GenerationEvent.self, from: [2]) }
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(GenerationEvent.self, from: [1, 3, 0, 0, 0]) }
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(CompletionEvent.self, from: [3]) }
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(CompletionEvent.self, from: [0, 0, 0, 0, 2]) }
    }
}
