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
    ]

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
