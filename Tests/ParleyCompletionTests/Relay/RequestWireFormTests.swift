import ParleyCluster
import ParleyProtocol
import Testing

/// The requests sent down the serving path cross the wire in their hand-written forms
/// (`WireCodable`): every field survives, and damaged bytes throw.
@Suite("Request wire forms")
struct RequestWireFormTests {
    static let sampling = SamplingOptions(
        temperature: 0.7, topP: 0.9, maxTokens: 256, seed: UInt64.max, stop: ["\n\n", "END"], frequencyPenalty: 0.5,
        presencePenalty: -1.25, logitBias: [0: -100, 50_256: 3.5, Int(Int32.max): 100], logprobs: 5,
        responseFormat: .jsonObject, topK: 20, minP: 0.1, repetitionPenalty: 1.15,
        tools: ToolOptions(
            tools: [
                ToolDefinition(name: "get_weather", description: "Weather", parameters: #"{"type":"object"}"#, strict: true),
                ToolDefinition(name: "now"),
            ],
            choice: .function("now"), parallelCalls: false))
    static let messages = [
        ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Héllo 🙂"),
        ChatMessage(role: "tool", content: "sunny", toolCallID: "call_1"),
    ]

    static var fullModelRequest: ModelRequest {
        ModelRequest(
            requestID: "chatcmpl-1", userID: "alice", model: "smollm2", messages: messages, sampling: sampling,
            priority: .batch, resume: ResumePoint(tokenCount: 12, text: "partial answer"), conversationID: "conv-9",
            historyCount: 1)
    }

    static var fullCompletionRequest: CompletionRequest {
        var request = CompletionRequest(
            requestID: "chatcmpl-2", userID: "bob", model: "synthetic", messages: messages, sampling: sampling,
            priority: .batch, conversationID: "conv-1", store: false, resume: ResumePoint(tokenCount: 3, text: "abc"),
            parentMessageID: "msg-4")
        request.startsAtRoot = true
        request.idempotent = true
        request.instructions = "Be brief."
        return request
    }

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        try BinaryDecoder().decode(T.self, from: BinaryEncoder().encode(value))
    }

    @Test func modelRequestsRoundTrip() throws {
        #expect(try roundTrip(Self.fullModelRequest) == Self.fullModelRequest)
        let bare = ModelRequest(requestID: "r", userID: "u", model: "m", messages: [])
        #expect(try roundTrip(bare) == bare)
    }

    @Test func completionRequestsRoundTrip() throws {
        #expect(try roundTrip(Self.fullCompletionRequest) == Self.fullCompletionRequest)
        let bare = CompletionRequest(requestID: "r", userID: "u", model: "m", messages: [])
        #expect(try roundTrip(bare) == bare)
    }

    /// A field added to one of these types must be added to its wire form too, or it is silently
    /// dropped between nodes: these counts make that a failing test.
    @Test func everyFieldHasItsPlaceInTheWireForm() {
        #expect(Mirror(reflecting: Self.fullModelRequest).children.count == 9, "update RequestWireForms.swift")
        #expect(Mirror(reflecting: Self.fullCompletionRequest).children.count == 13, "update RequestWireForms.swift")
        #expect(Mirror(reflecting: Self.sampling).children.count == 14, "update RequestWireForms.swift")
        #expect(Mirror(reflecting: Self.messages[0]).children.count == 3, "update RequestWireForms.swift")
        #expect(Mirror(reflecting: Self.sampling.tools!).children.count == 3, "update RequestWireForms.swift")
        #expect(Mirror(reflecting: Self.sampling.tools!.tools[0]).children.count == 4, "update RequestWireForms.swift")
        #expect(Mirror(reflecting: ResumePoint(tokenCount: 1, text: "")).children.count == 2, "update RequestWireForms.swift")
    }

    @Test func everyTruncationThrows() throws {
        let model = try BinaryEncoder().encode(Self.fullModelRequest)
        for length in 0..<model.count {
            #expect(throws: ClusterError.self) { try BinaryDecoder().decode(ModelRequest.self, from: Array(model[..<length])) }
        }
        let completion = try BinaryEncoder().encode(Self.fullCompletionRequest)
        for length in 0..<completion.count {
            #expect(throws: ClusterError.self) {
                try BinaryDecoder().decode(CompletionRequest.self, from: Array(completion[..<length]))
            }
        }
    }

    @Test func aMessageCountBeyondTheBytesLeftThrowsWithoutAllocating() throws {
        // requestID "r", userID "u", model "m", then a message count of 2^34.
        let bytes: [UInt8] = [1, 114, 1, 117, 1, 109, 0x80, 0x80, 0x80, 0x80, 0x40]
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(ModelRequest.self, from: bytes) }
    }

    @Test func aLogitBiasCountBeyondTheBytesLeftThrows() throws {
        var sampling = SamplingOptions()
        sampling.logitBias = [1: 1]
        var bytes = try BinaryEncoder().encode(sampling)
        // Seven empty fields, then the count 1 (zigzag: 2): make it 2^34.
        #expect(bytes[7] == 2)
        bytes.replaceSubrange(7...7, with: [0x80, 0x80, 0x80, 0x80, 0x80])
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(SamplingOptions.self, from: bytes) }
        bytes[7...11] = [0x01, 0, 0, 0, 0]  // -1
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(SamplingOptions.self, from: bytes) }
    }

    @Test func logprobsBeyondTheLimitThrow() throws {
        for count in [-1, 21] {
            let bytes = try BinaryEncoder().encode(SamplingOptions(logprobs: count))
            #expect(throws: ClusterError.self) { try BinaryDecoder().decode(SamplingOptions.self, from: bytes) }
        }
        #expect(try roundTrip(SamplingOptions(logprobs: 0)).logprobs == 0)
        #expect(try roundTrip(SamplingOptions(logprobs: 20)).logprobs == 20)
        let schema = SamplingOptions(responseFormat: .jsonSchema(name: "Cat", schema: #"{"type":"object"}"#))
        #expect(try roundTrip(schema) == schema)
    }

    @Test func everyToolChoiceRoundTripsAndAnUnknownOneThrows() throws {
        for choice in [ToolChoice.none, .auto, .required, .function("f")] {
            let options = SamplingOptions(tools: ToolOptions(tools: [ToolDefinition(name: "f")], choice: choice))
            #expect(try roundTrip(options) == options)
        }
        var bytes = try BinaryEncoder().encode(ToolOptions(tools: [], choice: .auto))
        // An empty tool list, then the choice.
        #expect(bytes == [0, 1, 1])
        bytes[1] = 9
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(ToolOptions.self, from: bytes) }
    }

    @Test func anUnknownPriorityThrows() throws {
        var bytes = try BinaryEncoder().encode(ModelRequest(requestID: "r", userID: "u", model: "m", messages: []))
        // The priority follows the sampling options (fourteen one-byte fields: six absent, no stops,
        // no biases, no logprobs, text format, four absent).
        let priorityAt = 6 + 1 + 14
        #expect(bytes[priorityAt] == 0)
        bytes[priorityAt] = 7
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(ModelRequest.self, from: bytes) }
    }
}
